"""Rate limits per endpoint, per user and per app, in fixed windows counted in the database.

The windows start at the first request, as X's do. Each header family describes its own window
(x-api.md §5): ``x-rate-limit-*`` the endpoint's 15-minute window of the caller (the user's; the
app's when the endpoint is app-only), ``x-user-limit-24hour-*`` and ``x-app-limit-24hour-*`` the
24-hour ones. So a 429 for a full 24-hour window still shows the 15-minute window's own count and
reset in ``x-rate-limit-*``; the 24-hour family says which window is full and when it reopens.
A refused request counts nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from twitter_channel.sandbox import clock
from twitter_channel.sandbox.models import RateWindow

Windows = list[tuple[int, int]]  # (seconds, limit)
Counted = tuple[int, int, RateWindow]  # (seconds, limit, the window's row)
MIN15, DAY = 15 * 60, 24 * 60 * 60

# x-api.md §5: the October 2022 launch figures, and today's table.
TIERS: dict[str, dict[str, dict[str, Windows]]] = {
    "launch": {
        "dm_post": {"user": [(MIN15, 200), (DAY, 1000)], "app": [(DAY, 15000)]},
        "dm_get": {"user": [(MIN15, 300)]},
        "dm_event_get": {"user": [(MIN15, 300)]},
        # §5 gives no launch figure for DELETE /2/dm_events/:id: today's table serves both tiers.
        "dm_event_delete": {"user": [(MIN15, 300), (DAY, 1500)], "app": [(DAY, 4000)]},
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


def _families(rows: list[tuple[str, Counted]], primary_scope: str) -> dict[str, Counted]:
    """Header prefix (``x-rate-limit``, ``x-user-limit-24hour``, ...) -> the window it describes."""
    families: dict[str, Counted] = {}
    primary = [window for scope, window in rows if scope == primary_scope]
    # The first window that is not daily (the 15-minute one); an endpoint with only a daily window shows that.
    main = next((w for w in primary if w[0] != DAY), primary[0] if primary else None)
    if main is not None:
        families["x-rate-limit"] = main
    for scope, window in rows:
        if window[0] == DAY:
            families.setdefault(f"x-{scope}-limit-24hour", window)
    return families


def take(*, endpoint: str, user_id: str | None, app_id: str) -> Decision:
    """Count one request against every window of ``endpoint``, or refuse it if any is full."""
    now = clock.now()
    owners = {"user": user_id, "app": app_id}
    with transaction.atomic():
        rows: list[tuple[str, Counted]] = []
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
                rows.append((scope, (seconds, limit, row)))
        allowed = all(row.count < limit for _, (_, limit, row) in rows)
        if allowed:
            for _, (_, _, row) in rows:
                row.count += 1
                row.save(update_fields=["started_at", "count"])
    headers: dict[str, str] = {}
    for prefix, (seconds, limit, row) in _families(rows, "user" if user_id is not None else "app").items():
        reset = int((row.started_at + timedelta(seconds=seconds)).timestamp())
        headers[f"{prefix}-limit"] = str(limit)
        headers[f"{prefix}-remaining"] = str(max(limit - row.count, 0))
        headers[f"{prefix}-reset"] = str(reset)
    return Decision(allowed=allowed, headers=headers)


def counters() -> list[dict[str, object]]:
    return [
        {"key": w.key, "window_seconds": w.window_seconds, "started_at": w.started_at.isoformat(), "count": w.count}
        for w in RateWindow.objects.order_by("key")
    ]
