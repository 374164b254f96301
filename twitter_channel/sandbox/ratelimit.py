"""Rate limits per endpoint, per user and per app, in fixed windows counted in the database.

The windows start at the first request, as X's do, and the ``x-rate-limit-*`` headers describe
the endpoint's first per-user window (the app's when the endpoint is app-only). POSTs to DM
endpoints also carry the 24-hour pairs. A refused request counts nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from twitter_channel.sandbox import clock
from twitter_channel.sandbox.models import RateWindow

Windows = list[tuple[int, int]]  # (seconds, limit)
MIN15, DAY = 15 * 60, 24 * 60 * 60

# x-api.md §5: the October 2022 launch figures, and today's table.
TIERS: dict[str, dict[str, dict[str, Windows]]] = {
    "launch": {
        "dm_post": {"user": [(MIN15, 200), (DAY, 1000)], "app": [(DAY, 15000)]},
        "dm_get": {"user": [(MIN15, 300)]},
        "dm_event_get": {"user": [(MIN15, 300)]},
        "users_me": {"user": [(MIN15, 75)]},
        "users_lookup": {"user": [(MIN15, 900)]},
        "media_write": {"user": [(MIN15, 1875)], "app": [(DAY, 180000)]},
        "media_status": {"user": [(MIN15, 1000)]},
        "media_download": {"user": [(MIN15, 1000)]},
        "webhooks": {"app": [(MIN15, 450)]},
        "subscriptions": {"user": [(MIN15, 500)]},
        "typing": {"user": [(MIN15, 1000)]},
    },
}
TIERS["current"] = {
    **TIERS["launch"],
    "dm_post": {"user": [(MIN15, 15), (DAY, 1440)], "app": [(DAY, 1440)]},
    "dm_get": {"user": [(MIN15, 15)]},
    "dm_event_get": {"user": [(MIN15, 15)]},
}

_overrides: dict[tuple[str, str], Windows] = {}


def limits_for(endpoint: str) -> dict[str, Windows]:
    base = TIERS[settings.SANDBOX["RATE_LIMIT_TIER"]][endpoint]
    return {scope: _overrides.get((endpoint, scope), windows) for scope, windows in base.items()}


def override(endpoint: str, scope: str, windows: Windows) -> None:
    if endpoint not in TIERS["launch"] or scope not in ("user", "app"):
        raise ValueError(f"unknown endpoint {endpoint!r} or scope {scope!r}")
    _overrides[(endpoint, scope)] = windows


def clear_overrides() -> None:
    _overrides.clear()


@dataclass
class Decision:
    allowed: bool
    headers: dict[str, str]


def _header_names(scope: str, seconds: int, primary: bool) -> tuple[str, str, str] | None:
    if primary:
        return ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
    if seconds == DAY:
        return tuple(f"x-{scope}-limit-24hour-{part}" for part in ("limit", "remaining", "reset"))  # type: ignore[return-value]
    return None


def take(*, endpoint: str, user_id: str | None, app_id: str) -> Decision:
    """Count one request against every window of ``endpoint``, or refuse it if any is full."""
    now = clock.now()
    owners = {"user": user_id, "app": app_id}
    with transaction.atomic():
        rows = []
        for scope, windows in limits_for(endpoint).items():
            if owners[scope] is None:
                continue
            for seconds, limit in windows:
                key = f"{scope}:{endpoint}:{owners[scope]}:{seconds}"
                row, _ = RateWindow.objects.get_or_create(
                    key=key, defaults={"window_seconds": seconds, "started_at": now, "count": 0}
                )
                if now >= row.started_at + timedelta(seconds=seconds):
                    row.started_at, row.count = now, 0
                rows.append((scope, seconds, limit, row))
        allowed = all(row.count < limit for _, _, limit, row in rows)
        if allowed:
            for _, _, _, row in rows:
                row.count += 1
                row.save(update_fields=["started_at", "count"])
    headers: dict[str, str] = {}
    primary_scope = "user" if user_id is not None else "app"
    primary_done = False
    for scope, seconds, limit, row in rows:
        primary = scope == primary_scope and not primary_done
        names = _header_names(scope, seconds, primary)
        if names is None:
            continue
        primary_done = primary_done or primary
        reset = int((row.started_at + timedelta(seconds=seconds)).timestamp())
        values = (str(limit), str(max(limit - row.count, 0)), str(reset))
        headers.update(dict(zip(names, values, strict=True)))
    if not allowed:
        full = [(row.started_at + timedelta(seconds=s), row) for _, s, limit, row in rows if row.count >= limit]
        headers["x-rate-limit-reset"] = str(int(max(reset_at for reset_at, _ in full).timestamp()))
    return Decision(allowed=allowed, headers=headers)


def counters() -> list[dict[str, object]]:
    return [
        {"key": w.key, "window_seconds": w.window_seconds, "started_at": w.started_at.isoformat(), "count": w.count}
        for w in RateWindow.objects.order_by("key")
    ]
