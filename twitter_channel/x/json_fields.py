"""Reading X's JSON strictly where callers rely on it: ids, types and times. No Django in here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal, overload


class UnexpectedShape(ValueError):
    """X's JSON lacks a key we rely on, or holds a value of the wrong type."""


# What XClient asks for on every lookup, so what these parsers see. All are OA 2.159 enum values (a test
# checks them against openapi_dm_excerpt.json).
# Left out: media metrics only the media's owner may read, and user/post fields the parsers below do not read
# (X, and the sandbox, accept every OA value, but each one asked for is more to fetch and send).
def to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def epoch_seconds(value: Any) -> datetime | None:
    seconds = to_int(value)
    if seconds is None or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso_time(value: Any) -> datetime | None:
    """X's ``2022-10-19T20:58:00.000Z``, as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def retry_after(value: Any, now: datetime) -> datetime | None:
    seconds = to_int(value)
    if seconds is not None:
        return now + timedelta(seconds=max(seconds, 0))
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def opt_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def opt_bool(raw: Mapping[str, Any], key: str) -> bool | None:
    value = raw.get(key)
    return value if isinstance(value, bool) else None


# --- strict readers (raise UnexpectedShape) ----------------------------------------------------------------


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UnexpectedShape(f"{where} is not a JSON object (got {type(value).__name__})")
    return value


def list_of(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnexpectedShape(f"{where} is not a JSON array (got {type(value).__name__})")
    return value


@overload
def required_id(raw: Mapping[str, Any], key: str, where: str, *, required: Literal[True] = True) -> str: ...
@overload
def required_id(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None: ...
def required_id(raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise UnexpectedShape(f"{where} has no `{key}` (got {value!r})")
    return value


def required_text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise UnexpectedShape(f"{where} has no string `{key}` (got {value!r})")
    return value


def flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key)
    if not isinstance(value, bool):
        raise UnexpectedShape(f"{where} has no boolean `{key}` (got {value!r})")
    return value


def ids_of(value: Any, where: str) -> tuple[str, ...]:
    items = list_of(value, where)
    if not all(isinstance(i, str) and i for i in items):
        raise UnexpectedShape(f"{where} must list string ids (got {items!r})")
    return tuple(items)


def errors_of(body: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    errors = body.get("errors")
    return tuple(e for e in errors if isinstance(e, dict)) if isinstance(errors, list) else ()


def data_of(body: Any) -> dict[str, Any]:
    return obj(obj(body, "the body").get("data"), "`data`")
