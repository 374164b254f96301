"""v2 ``dm_events`` items (``GET /2/dm_events`` and the per-conversation lookups) and their ``includes``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inbox.dm_events import DmEvent, DmEventType, DmMedia, XUserProfile
from twitter_channel.inbound.parsing import entities as parsing_entities
from twitter_channel.inbound.parsing.profiles import pick, profile_v2
from twitter_channel.inbound.parsing.v1 import best_variant, variant
from twitter_channel.x.json_fields import (
    PayloadError,
    as_id,
    as_object,
    as_str,
    at,
    conversation_id,
    iso_timestamp,
    opt_count,
    opt_id,
    opt_list,
    opt_object,
    opt_str,
    req_id,
    req_str,
)

_MEDIA_KEY = re.compile(r"([0-9]{1,19})_([0-9]{1,19})")
# The media-key prefix names the media type: 3_ photo, 7_ video (x-api.md §1), 13_ amplify video
# (docs' upload example), 16_ GIF (a third-party capture). Only used when includes.media lacks the key.
_TYPE_BY_PREFIX = {"3": "photo", "7": "video", "13": "video", "16": "animated_gif"}
UNKNOWN_MEDIA_TYPE = "unknown"


@dataclass(frozen=True)
class Includes:
    """A page's ``includes``, indexed; ``rejected`` lists the entries that were left out."""

    users: Mapping[str, XUserProfile] = field(default_factory=dict)
    media: Mapping[str, tuple[Mapping[str, Any], str]] = field(default_factory=dict)  # key -> (object, path)
    rejected: tuple[str, ...] = ()


def index_includes(raw: object, path: str = "includes") -> Includes:
    """Index ``includes.users`` and ``includes.media``; a bad entry is left out, not fatal."""
    if raw is None:
        return Includes()
    includes = as_object(raw, path)
    rejected: list[str] = []
    users: dict[str, XUserProfile] = {}
    for i, item in enumerate(opt_list(includes, "users", path)):
        try:
            profile = profile_v2(item, at(at(path, "users"), i))
        except PayloadError as exc:
            rejected.append(str(exc))
            continue
        users[profile.x_user_id] = profile
    media: dict[str, tuple[Mapping[str, Any], str]] = {}
    for i, item in enumerate(opt_list(includes, "media", path)):
        item_path = at(at(path, "media"), i)
        try:
            entry = as_object(item, item_path)
            media[req_str(entry, "media_key", item_path)] = (entry, item_path)
        except PayloadError as exc:
            rejected.append(str(exc))
    return Includes(users=users, media=media, rejected=tuple(rejected))


def event_type(raw: Mapping[str, Any], path: str) -> str:
    return req_str(raw, "event_type", path)


def dm_event(raw: object, path: str, includes: Includes) -> DmEvent:
    event = as_object(raw, path)
    kind = event_type(event, path)
    try:
        typed = DmEventType(kind)
    except ValueError:
        raise PayloadError(at(path, "event_type"), f"unknown event type {kind[:40]!r}") from None
    event_id = req_id(event, "id", path)
    if "dm_conversation_id" not in event:
        raise PayloadError(at(path, "dm_conversation_id"), "missing")
    x_conversation_id = conversation_id(event["dm_conversation_id"], at(path, "dm_conversation_id"))
    created_at = iso_timestamp(event, "created_at", path)
    sender_id = opt_id(event, "sender_id", path)
    participant_ids = tuple(
        as_id(item, at(at(path, "participant_ids"), i))
        for i, item in enumerate(opt_list(event, "participant_ids", path))
    )
    if typed == DmEventType.MESSAGE_CREATE:
        if sender_id is None:
            raise PayloadError(at(path, "sender_id"), "missing")
        # Since 2025-06-03 X no longer lists the members on a message; older events did.
        participant_ids = ()
    elif not participant_ids:
        raise PayloadError(at(path, "participant_ids"), f"missing ({kind} lists who joined or left)")

    text = opt_str(event, "text", path) or ""
    attachments = _attachments(event, path, includes)
    entities = parsing_entities.from_v2(event, path)
    parsing_entities.mark_media(entities, text, has_media=bool(attachments))
    members = x_conversation_id.split("-") if "-" in x_conversation_id else ()
    return DmEvent(
        x_event_id=event_id,
        event_type=typed,
        x_conversation_id=x_conversation_id,
        created_at=created_at,
        sender_id=sender_id,
        text=text,
        participant_ids=participant_ids,
        entities=entities,
        attachments=attachments,
        referenced_post_ids=_referenced(event, path),
        users=pick(includes.users, sender_id, *participant_ids, *members),
    )


def _referenced(event: Mapping[str, Any], path: str) -> tuple[str, ...]:
    """``referenced_tweets`` (every capture) and ``referenced_posts`` (OA7's name), in order, once each."""
    ids: dict[str, None] = {}
    for key in ("referenced_tweets", "referenced_posts"):
        for i, item in enumerate(opt_list(event, key, path)):
            item_path = at(at(path, key), i)
            ids[req_id(as_object(item, item_path), "id", item_path)] = None
    return tuple(ids)


def _attachments(event: Mapping[str, Any], path: str, includes: Includes) -> tuple[DmMedia, ...]:
    attachments_path = at(path, "attachments")
    attachments = opt_object(event, "attachments", path) or {}
    keys_path = at(attachments_path, "media_keys")
    return tuple(
        _media(as_str(key, at(keys_path, i)), at(keys_path, i), includes)
        for i, key in enumerate(opt_list(attachments, "media_keys", attachments_path))
    )


def _media(media_key: str, path: str, includes: Includes) -> DmMedia:
    match = _MEDIA_KEY.fullmatch(media_key)
    if match is None:
        raise PayloadError(path, f"expected a media key '<type>_<id>', got {media_key[:40]!r}")
    prefix, media_id = match.groups()
    if media_key not in includes.media:
        # Not expanded (no `expansions=attachments.media_keys`): the key is all we know.
        guessed = _TYPE_BY_PREFIX.get(prefix, UNKNOWN_MEDIA_TYPE)
        return DmMedia(media_type=guessed, media_key=media_key, media_id=media_id)
    raw, media_path = includes.media[media_key]
    media_type = req_str(raw, "type", media_path)
    listed = opt_list(raw, "variants", media_path)
    variants = tuple(variant(item, at(at(media_path, "variants"), i)) for i, item in enumerate(listed))
    image = opt_str(raw, "url", media_path) or ""
    content = image if media_type == "photo" else (best_variant(variants) or image)
    return DmMedia(
        media_type=media_type,
        media_key=media_key,
        media_id=media_id,
        url=content,
        preview_url=opt_str(raw, "preview_image_url", media_path) or image,
        download_url=content,
        variants=variants,
        width=opt_count(raw, "width", media_path),
        height=opt_count(raw, "height", media_path),
        alt_text=opt_str(raw, "alt_text", media_path) or "",
        duration_ms=opt_count(raw, "duration_ms", media_path),
    )
