"""Reading X's JSON: the one set of readers for the X client's results and the payload parsers. No Django here.

Strict readers raise ``PayloadError`` naming where, as a reader would look it up:
``direct_message_events[1].message_create.sender_id`` (``""`` is the whole body). Optional ones treat an
absent key and ``null`` alike. Tolerant readers (headers, display fields) return None for what they cannot
read. ``storable_json`` cleans a decoded body before any of them reads it.

Two kinds of id: ``as_id`` (X's numeric ids, 1 to 19 ASCII digits: what the parsers hand to the inbox)
and ``as_ident`` (what the client's results hand on as X wrote it: a non-empty string, or an integer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

# X ids are decimal strings of at most 19 digits (OA `DmEventId`, `UserId`); ASCII only, so that
# str.isdigit()'s other digits ("²", "٣") never reach int().
_ID = re.compile(r"[0-9]{1,19}")
_MS_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_CONVERSATION_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}|[0-9]{1,19}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NUL = "\x00"
REPLACEMENT_CHARACTER = "\ufffd"
# What cannot be stored as text: U+0000 (PostgreSQL) and any UTF-16 surrogate (not encodable as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Deeper JSON is refused: X's payloads nest about ten levels; the parsers and the database need a bound.
MAX_JSON_DEPTH = 64
_Json = TypeVar("_Json")


class PayloadError(ValueError):
    """X sent something other than what X sends; ``path`` says where (empty for the whole body)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


def storable_json(value: _Json) -> _Json:
    """Decoded JSON whose every string (object keys included, at any depth) can be stored and sent on.

    Replaced by U+FFFD: U+0000, which PostgreSQL cannot store in ``text`` or ``jsonb``, and every UTF-16
    surrogate, which cannot be encoded as UTF-8 at all (psycopg raises ``UnicodeEncodeError``). JSON may
    spell both (``\\u0000``, ``\\ud800``) wherever a user wrote something (text, names, entities, keys); a
    surrogate pair in the right order is decoded as the one character it stands for, so what is left is a
    lone surrogate or a reversed pair. Returns ``value`` itself, not a copy, when there is nothing to
    replace (the common case, checked cheaply: ``str.isascii`` is free); otherwise objects come back as
    dicts, lists as lists and tuples as tuples. Other values are returned as they are.

    Raises ``PayloadError`` for JSON nested deeper than ``MAX_JSON_DEPTH`` levels (X's go about ten deep).
    """
    return _replaced(value) if _needs_replacing(value) else value


def _needs_replacing(value: object) -> bool:
    # Level by level, without recursion; the whole body is walked, for its depth.
    found = False
    level = [value]
    for _depth in range(MAX_JSON_DEPTH + 1):
        deeper: list[object] = []
        for item in level:
            if isinstance(item, str):
                found = found or NUL in item or (not item.isascii() and _UNSTORABLE.search(item) is not None)
            elif isinstance(item, Mapping):
                deeper.extend(item.keys())
                deeper.extend(item.values())
            elif isinstance(item, list | tuple):
                deeper.extend(item)
        if not deeper:
            return found
        level = deeper
    raise PayloadError("", f"nested deeper than {MAX_JSON_DEPTH} levels")


def _replaced(value: Any) -> Any:
    # Recursive, at most MAX_JSON_DEPTH deep: _needs_replacing walked the whole body first.
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT_CHARACTER, value)
    if isinstance(value, Mapping):
        return {_replaced(key): _replaced(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_replaced(item) for item in value)
    return value


# --- paths --------------------------------------------------------------------------------------------------


def at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence):
        return "a list"
    return type(value).__name__


def _show(value: object) -> str:
    return repr(value[:40]) if isinstance(value, str) else kind(value)


# --- strict readers: objects and lists ------------------------------------------------------------------------


def as_object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(path, f"expected an object, got {kind(value)}")
    return value


def as_list(value: object, path: str) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise PayloadError(path, f"expected a list, got {kind(value)}")
    return value


def required(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise PayloadError(at(path, key), "missing")
    value = obj[key]
    if value is None:
        raise PayloadError(at(path, key), "expected a value, got null")
    return value


def req_object(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    return as_object(required(obj, key, path), at(path, key))


def opt_object(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    return None if value is None else as_object(value, at(path, key))


def opt_list(obj: Mapping[str, Any], key: str, path: str) -> Sequence[Any]:
    value = obj.get(key)
    return () if value is None else as_list(value, at(path, key))


def list_items(obj: Mapping[str, Any], key: str, path: str) -> list[tuple[Any, str]]:
    """The items of the optional list ``obj[key]``, each with its path (``path.key[i]``)."""
    where = at(path, key)
    return [(item, at(where, i)) for i, item in enumerate(opt_list(obj, key, path))]


# --- strict readers: values -----------------------------------------------------------------------------------


def as_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(path, f"expected a string, got {kind(value)}")
    return value


def req_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    return as_str(required(obj, key, path), at(path, key))


def opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    return None if value is None else as_str(value, at(path, key))


def as_int(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(path, f"expected an integer, got {kind(value)}")
    return value


def opt_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    return None if value is None else as_int(value, at(path, key))


def opt_count(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = opt_int(obj, key, path)
    if value is not None and value < 0:
        raise PayloadError(at(path, key), f"expected a count, got {value}")
    return value


def as_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise PayloadError(path, f"expected a boolean, got {kind(value)}")
    return value


def req_bool(obj: Mapping[str, Any], key: str, path: str) -> bool:
    return as_bool(required(obj, key, path), at(path, key))


def opt_bool(obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = obj.get(key)
    return None if value is None else as_bool(value, at(path, key))


# --- ids --------------------------------------------------------------------------------------------------------


def as_id(value: object, path: str) -> str:
    """X's numeric id: a string of 1 to 19 ASCII digits."""
    text = as_str(value, path)
    if not _ID.fullmatch(text):
        raise PayloadError(path, f"expected a numeric id, got {text[:40]!r}")
    return text


def req_id(obj: Mapping[str, Any], key: str, path: str) -> str:
    return as_id(required(obj, key, path), at(path, key))


def opt_id(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    return None if value is None else as_id(value, at(path, key))


def conversation_id(value: object, path: str) -> str:
    text = as_str(value, path)
    if not _CONVERSATION_ID.fullmatch(text):
        raise PayloadError(path, f"expected a conversation id ('<id>-<id>' or '<id>'), got {text[:50]!r}")
    return text


def one_to_one_conversation_id(a: str, b: str) -> str:
    """X's id of the one-to-one conversation of two users: both ids in NUMERIC ascending order.

    ``944480690`` and ``906948460078698496`` give ``944480690-906948460078698496`` although the
    first sorts after the second as text (x-api.md §1).
    """
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


def as_ident(value: object, path: str) -> str:
    """An identifier the client's results hand on as X wrote it: a non-empty string (not checked to be
    digits: media keys, conversation ids), or an integer, as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise PayloadError(path, f"expected an id, got {_show(value)}")
    return value


def req_ident(obj: Mapping[str, Any], key: str, path: str) -> str:
    return as_ident(required(obj, key, path), at(path, key))


def opt_ident(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    return None if value is None else as_ident(value, at(path, key))


def ident_list(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    """The optional list ``obj[key]`` of identifiers, each a non-empty string."""
    found = []
    for item, item_path in list_items(obj, key, path):
        if not isinstance(item, str) or not item:
            raise PayloadError(item_path, f"expected an id, got {_show(item)}")
        found.append(item)
    return tuple(found)


# --- strict readers: times --------------------------------------------------------------------------------------


def ms_timestamp(obj: Mapping[str, Any], key: str, path: str) -> datetime:
    """v1.1/AAA ``created_timestamp``: a string of epoch milliseconds (an integer is accepted too)."""
    value = required(obj, key, path)
    if isinstance(value, str) and _MS_TIMESTAMP.fullmatch(value):
        millis = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        millis = value
    else:
        raise PayloadError(at(path, key), f"expected epoch milliseconds as a string, got {_show(value)}")
    try:
        return _EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        raise PayloadError(at(path, key), f"timestamp out of range: {millis}") from None


def iso_timestamp(obj: Mapping[str, Any], key: str, path: str) -> datetime:
    """v2 ``created_at``: ISO 8601 with a zone, e.g. ``2022-10-19T20:58:00.000Z``; returned in UTC."""
    text = req_str(obj, key, path)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(at(path, key), f"expected an ISO 8601 time, got {text[:40]!r}") from None
    if value.tzinfo is None:
        raise PayloadError(at(path, key), f"time has no zone: {text[:40]!r}")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PayloadError(at(path, key), f"time out of range: {text[:40]!r}") from None


# --- tolerant readers (missing or garbage -> None) ----------------------------------------------------------


def to_int(value: Any) -> int | None:
    """An integer, or a string of one (X sends counts and header values as strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def str_or_none(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def bool_or_none(raw: Mapping[str, Any], key: str) -> bool | None:
    value = raw.get(key)
    return value if isinstance(value, bool) else None


def epoch_seconds(value: Any) -> datetime | None:
    seconds = to_int(value)
    if seconds is None or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso_time(value: Any) -> datetime | None:
    """X's ``2022-10-19T20:58:00.000Z``, as an aware UTC datetime (no zone: taken as UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def retry_after(value: Any, now: datetime) -> datetime | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as the time it names."""
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


def errors_of(body: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The objects of X's ``errors`` array (partial errors of a 200), if any."""
    errors = body.get("errors")
    return tuple(e for e in errors if isinstance(e, dict)) if isinstance(errors, list) else ()
