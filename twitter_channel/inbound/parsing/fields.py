"""Field readers shared by the payload parsers: every failure is a ``PayloadError`` naming its path.

Paths are written as a reader would look them up: ``direct_message_events[1].message_create.sender_id``.
Optional readers treat an absent key and ``null`` alike. ``storable_json`` cleans a decoded body before any
of them reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from inbox.dm_events import XUserProfile

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
    return _count(opt_int(obj, key, path), at(path, key))


def opt_bool(obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise PayloadError(at(path, key), f"expected a boolean, got {kind(value)}")
    return value


def as_id(value: object, path: str) -> str:
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


def _show(value: object) -> str:
    return repr(value[:40]) if isinstance(value, str) else kind(value)


# -- profiles -------------------------------------------------------------------------------------


def profile_v1(raw: object, x_user_id: str, path: str) -> XUserProfile:
    """A condensed v1 user (AAA / v1.1 ``users`` map)."""
    user = as_object(raw, path)
    _check_own_id(user, x_user_id, path)
    return XUserProfile(
        x_user_id=x_user_id,
        handle=opt_str(user, "screen_name", path),
        name=opt_str(user, "name", path),
        avatar_url=opt_str(user, "profile_image_url_https", path) or opt_str(user, "profile_image_url", path),
        description=opt_str(user, "description", path),
        location=opt_str(user, "location", path),
        followers_count=opt_count(user, "followers_count", path),
        verified=opt_bool(user, "verified", path),
        protected=opt_bool(user, "protected", path),
    )


def profile_v2(raw: object, path: str) -> XUserProfile:
    """A v2 user object (``includes.users``; the ``data`` of an X Activity users-map entry)."""
    user = as_object(raw, path)
    metrics = opt_object(user, "public_metrics", path) or {}
    metrics_path = at(path, "public_metrics")
    return XUserProfile(
        x_user_id=req_id(user, "id", path),
        handle=opt_str(user, "username", path),
        name=opt_str(user, "name", path),
        avatar_url=opt_str(user, "profile_image_url", path),
        description=opt_str(user, "description", path),
        location=opt_str(user, "location", path),
        followers_count=opt_count(metrics, "followers_count", metrics_path),
        verified=opt_bool(user, "verified", path),
        protected=opt_bool(user, "protected", path),
    )


def _check_own_id(user: Mapping[str, Any], x_user_id: str, path: str) -> None:
    own = user.get("id_str", user.get("id"))
    if own is not None and str(own) != x_user_id:
        raise PayloadError(at(path, "id"), f"{str(own)[:40]!r} does not match its key {x_user_id!r}")


def _count(value: int | None, path: str) -> int | None:
    if value is not None and value < 0:
        raise PayloadError(path, f"expected a count, got {value}")
    return value


def users_map(raw: object, path: str, rejected: list[str]) -> dict[str, XUserProfile]:
    """The ``users`` map of a webhook body, keyed by user id.

    AAA values are v1 users; X Activity wraps a v2 user as ``{"data": {...}}``. One bad entry is
    left out and reported in ``rejected``; the map itself must be an object.
    """
    if raw is None:
        return {}
    users = as_object(raw, path)
    profiles: dict[str, XUserProfile] = {}
    for key, value in users.items():
        entry_path = at(path, str(key))
        try:
            x_user_id = as_id(key, entry_path)
            if isinstance(value, Mapping) and "data" in value:
                profile = profile_v2(value["data"], at(entry_path, "data"))
                if profile.x_user_id != x_user_id:
                    raise PayloadError(at(entry_path, "data.id"), f"{profile.x_user_id!r} does not match its key")
            else:
                profile = profile_v1(value, x_user_id, entry_path)
        except PayloadError as exc:
            rejected.append(str(exc))
            continue
        profiles[x_user_id] = profile
    return profiles


def pick(profiles: Mapping[str, XUserProfile], *ids: str | None) -> dict[str, XUserProfile]:
    """The profiles of the given users that the payload carried."""
    return {i: profiles[i] for i in ids if i is not None and i in profiles}
