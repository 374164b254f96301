"""Rate-limit windows written as text, ``<seconds>:<limit>`` pairs: ``"900:200,86400:1000"``.

The settings ``X_DM_LIMITS_USER`` / ``X_DM_LIMITS_APP`` and ``XAccount.dm_limits`` use this form. Pure
functions, no models (the model field's validator lives here, so ``models.py`` can import it).
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

Window = tuple[int, int]  # (seconds, limit)

MAX_WINDOW_SECONDS = 7 * 24 * 60 * 60
MAX_MARGIN_SECONDS = 60.0
EXAMPLE = "900:200,86400:1000"


@lru_cache(maxsize=64)
def windows_parse(text: str) -> tuple[Window, ...]:
    """``"900:200,86400:1000"`` → ``((900, 200), (86400, 1000))``, shortest window first; ``""`` → ``()``.

    Raises ``ValueError`` saying what is wrong: not ``<seconds>:<limit>``, not whole numbers, a window
    of 0 s or longer than 7 days, a limit below 1, or the same window twice.
    """
    windows: dict[int, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            if text.strip():
                raise ValueError("an empty item between commas")
            continue
        seconds_text, colon, limit_text = part.partition(":")
        if not colon:
            raise ValueError(f"{part!r} is not <seconds>:<limit>")
        try:
            seconds, limit = int(seconds_text), int(limit_text)
        except ValueError:
            raise ValueError(f"{part!r}: seconds and limit must be whole numbers") from None
        if not 1 <= seconds <= MAX_WINDOW_SECONDS:
            raise ValueError(f"{part!r}: a window is 1 to {MAX_WINDOW_SECONDS} seconds (7 days)")
        if limit < 1:
            raise ValueError(f"{part!r}: the limit must be at least 1")
        if seconds in windows:
            raise ValueError(f"the {seconds}-second window is given twice")
        windows[seconds] = limit
    return tuple(sorted(windows.items()))


def windows_format(windows: tuple[Window, ...]) -> str:
    return ",".join(f"{seconds}:{limit}" for seconds, limit in windows)


def dm_limits_validator(value: str) -> None:
    """The validator of ``XAccount.dm_limits`` (blank is allowed: the account uses ``X_DM_LIMITS_USER``)."""
    try:
        windows_parse(value)
    except ValueError as exc:
        raise ValidationError(f"{exc}. Write <seconds>:<limit> pairs, e.g. 900:15,86400:1440.") from None


def _setting(name: str) -> str:
    value = getattr(settings, name)
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"{name} must be a string of <seconds>:<limit> pairs such as {EXAMPLE!r}.")
    return value


def setting_windows(name: str) -> tuple[Window, ...]:
    """The windows of setting ``name`` (``X_DM_LIMITS_USER`` or ``X_DM_LIMITS_APP``); a clear error if malformed."""
    value = _setting(name)
    try:
        return windows_parse(value)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{name}={value!r}: {exc}. Expected comma-separated <seconds>:<limit> pairs such as {EXAMPLE!r}."
        ) from None


def setting_margin() -> float:
    """``X_DM_LIMIT_MARGIN`` in seconds (0 to 60); a clear error if it is not a number in that range."""
    value = settings.X_DM_LIMIT_MARGIN
    try:
        margin = float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"X_DM_LIMIT_MARGIN={value!r} is not a number of seconds (e.g. 2).") from None
    if not 0 <= margin <= MAX_MARGIN_SECONDS:
        raise ImproperlyConfigured(f"X_DM_LIMIT_MARGIN={value!r}: give 0 to {MAX_MARGIN_SECONDS:g} seconds.")
    return margin


def settings_check() -> None:
    """Raise ``ImproperlyConfigured`` if any of the three settings is malformed (run when Django starts)."""
    setting_windows("X_DM_LIMITS_USER")
    setting_windows("X_DM_LIMITS_APP")
    setting_margin()


def window_label(seconds: int) -> str:
    """``900`` → ``"15 minutes"``, ``86400`` → ``"24 hours"``, ``5`` → ``"5 seconds"``."""
    for unit, name in ((3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % unit == 0:
            count = seconds // unit
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"  # pragma: no cover (every whole number is a multiple of 1)
