"""X's rate-limit headers, as every answer of ``XClient`` carries them (x-api.md §5). No Django in here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from twitter_channel.x.json_fields import epoch_seconds, retry_after, to_int


@dataclass(frozen=True)
class RateWindow:
    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass(frozen=True)
class RateLimit:
    """X's ``x-rate-limit-*`` headers (the 15-minute window), and the 24-hour user and app windows."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    user_24h: RateWindow | None = None
    app_24h: RateWindow | None = None
    retry_after_at: datetime | None = None
    """From a ``Retry-After`` header, when X sent one."""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        lower = {str(k).lower(): v for k, v in headers.items()}

        def window(prefix: str) -> RateWindow | None:
            found = RateWindow(
                limit=to_int(lower.get(f"{prefix}-limit")),
                remaining=to_int(lower.get(f"{prefix}-remaining")),
                reset_at=epoch_seconds(lower.get(f"{prefix}-reset")),
            )
            return found if found != RateWindow() else None

        main = window("x-rate-limit") or RateWindow()
        return cls(
            limit=main.limit,
            remaining=main.remaining,
            reset_at=main.reset_at,
            user_24h=window("x-user-limit-24hour"),
            app_24h=window("x-app-limit-24hour"),
            retry_after_at=retry_after(lower.get("retry-after"), datetime.now(UTC)),
        )

    def reopens_at(self) -> datetime | None:
        """When calls are allowed again: the latest reset of the exhausted windows, else the 15-minute
        window's reset, else ``Retry-After``."""
        main = RateWindow(self.limit, self.remaining, self.reset_at)
        exhausted = [w.reset_at for w in (main, self.user_24h, self.app_24h) if w and w.exhausted and w.reset_at]
        if exhausted:
            return max(exhausted)
        return self.reset_at or self.retry_after_at
