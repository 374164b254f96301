"""X's user objects in a payload -> ``inbox.dm_events.XUserProfile``: v1 users (AAA, v1.1) and v2 users.

Read with ``twitter_channel.x.json_fields``: every failure is a ``PayloadError`` naming its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inbox.dm_events import XUserProfile
from twitter_channel.x.json_fields import (
    PayloadError,
    as_id,
    as_object,
    at,
    opt_bool,
    opt_count,
    opt_object,
    opt_str,
    req_id,
)


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
