"""v1.1-shaped DM objects: Account Activity / X Activity webhook events and ``direct_messages/events``.

These carry no conversation id: a one-to-one conversation is named by its two user ids (x-api.md §1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inbox.dm_events import DmEvent, DmEventType, DmMedia, MediaVariant, ReadEvent, TypingEvent, XUserProfile
from twitter_channel.inbound.parsing import entities as parsing_entities
from twitter_channel.inbound.parsing.profiles import pick
from twitter_channel.x.json_fields import (
    PayloadError,
    as_int,
    as_object,
    at,
    ms_timestamp,
    one_to_one_conversation_id,
    opt_count,
    opt_id,
    opt_list,
    opt_object,
    opt_str,
    req_id,
    req_object,
    req_str,
)

_NO_PROFILES: Mapping[str, XUserProfile] = {}


def message_create(
    raw: object,
    path: str,
    *,
    users: Mapping[str, XUserProfile] = _NO_PROFILES,
    apps: Mapping[str, Any] | None = None,
) -> DmEvent:
    """One ``{"type": "message_create", ...}`` event; ``apps`` is the body's top-level ``apps`` map."""
    event = as_object(raw, path)
    kind = req_str(event, "type", path)
    if kind != "message_create":
        raise PayloadError(at(path, "type"), f"expected 'message_create', got {kind[:40]!r}")
    event_id = req_id(event, "id", path)
    created_at = ms_timestamp(event, "created_timestamp", path)
    create_path = at(path, "message_create")
    create = req_object(event, "message_create", path)
    sender_id = req_id(create, "sender_id", create_path)
    recipient_id = req_id(req_object(create, "target", create_path), "recipient_id", at(create_path, "target"))
    source_app_id = opt_id(create, "source_app_id", create_path)

    data_path = at(create_path, "message_data")
    data = req_object(create, "message_data", create_path)
    text = opt_str(data, "text", data_path) or ""
    entities = parsing_entities.from_v1(data.get("entities"), at(data_path, "entities"))
    attachments, media_urls = _attachment(data.get("attachment"), at(data_path, "attachment"))
    parsing_entities.mark_media(entities, text, has_media=bool(attachments), media_urls=media_urls)
    quick_reply = opt_object(data, "quick_reply_response", data_path)

    via_path = at(path, "initiated_via")
    via = opt_object(event, "initiated_via", path) or {}
    return DmEvent(
        x_event_id=event_id,
        event_type=DmEventType.MESSAGE_CREATE,
        x_conversation_id=one_to_one_conversation_id(sender_id, recipient_id),
        created_at=created_at,
        sender_id=sender_id,
        text=text,
        entities=entities,
        attachments=attachments,
        quick_reply_response=dict(quick_reply) if quick_reply is not None else None,
        users=pick(users, sender_id, recipient_id),
        initiated_via_post_id=opt_id(via, "tweet_id", via_path),
        welcome_message_id=opt_id(via, "welcome_message_id", via_path),
        source_app_id=source_app_id,
        source_app_name=_app_name(apps, source_app_id),
    )


def typing(raw: object, path: str, *, users: Mapping[str, XUserProfile] = _NO_PROFILES) -> TypingEvent:
    """``direct_message_indicate_typing_events[]``: ``sender_id`` is typing to ``target.recipient_id``."""
    event = as_object(raw, path)
    sender_id, recipient_id = _pair(event, path)
    return TypingEvent(
        x_conversation_id=one_to_one_conversation_id(sender_id, recipient_id),
        sender_id=sender_id,
        created_at=ms_timestamp(event, "created_timestamp", path),
        users=pick(users, sender_id, recipient_id),
    )


def read(raw: object, path: str, *, users: Mapping[str, XUserProfile] = _NO_PROFILES) -> ReadEvent:
    """``direct_message_mark_read_events[]``: ``sender_id`` read ``target.recipient_id``'s messages."""
    event = as_object(raw, path)
    reader_id, other_id = _pair(event, path)
    return ReadEvent(
        x_conversation_id=one_to_one_conversation_id(reader_id, other_id),
        reader_id=reader_id,
        last_read_event_id=req_id(event, "last_read_event_id", path),
        created_at=ms_timestamp(event, "created_timestamp", path),
        users=pick(users, reader_id, other_id),
    )


def _pair(event: Mapping[str, Any], path: str) -> tuple[str, str]:
    sender_id = req_id(event, "sender_id", path)
    recipient_id = req_id(req_object(event, "target", path), "recipient_id", at(path, "target"))
    return sender_id, recipient_id


def _app_name(apps: Mapping[str, Any] | None, app_id: str | None) -> str | None:
    if app_id is None or not isinstance(apps, Mapping):
        return None
    app = apps.get(app_id)
    name = app.get("name") if isinstance(app, Mapping) else None
    return name if isinstance(name, str) else None


def _attachment(raw: object, path: str) -> tuple[tuple[DmMedia, ...], frozenset[str]]:
    """``message_data.attachment`` -> the media and its t.co link; other attachment types are not media."""
    if raw is None:
        return (), frozenset()
    attachment = as_object(raw, path)
    if req_str(attachment, "type", path) != "media":
        return (), frozenset()
    media_path = at(path, "media")
    media = req_object(attachment, "media", path)
    media_type = req_str(media, "type", media_path)
    media_id = req_id(media, "id_str", media_path)
    image = opt_str(media, "media_url_https", media_path) or opt_str(media, "media_url", media_path) or ""
    video_path = at(media_path, "video_info")
    video = opt_object(media, "video_info", media_path) or {}
    listed = opt_list(video, "variants", video_path)
    variants = tuple(variant(item, at(at(video_path, "variants"), i)) for i, item in enumerate(listed))
    content = best_variant(variants) or image
    width, height = _size(media, media_path)
    tco = opt_str(media, "url", media_path)
    dm_media = DmMedia(
        media_type=media_type,
        media_id=media_id,
        url=content,
        preview_url=image,
        download_url=content,
        variants=variants,
        width=width,
        height=height,
        alt_text=opt_str(media, "ext_alt_text", media_path) or "",
        duration_ms=opt_count(video, "duration_millis", video_path),
    )
    return (dm_media,), frozenset({tco} if tco else ())


def variant(raw: object, path: str) -> MediaVariant:
    item = as_object(raw, path)
    bitrate = item.get("bitrate", item.get("bit_rate"))
    return MediaVariant(
        bitrate=None if bitrate is None else as_int(bitrate, at(path, "bitrate" if "bitrate" in item else "bit_rate")),
        content_type=req_str(item, "content_type", path),
        url=req_str(item, "url", path),
    )


def best_variant(variants: tuple[MediaVariant, ...]) -> str:
    """The highest-bitrate MP4 (X also lists HLS playlists), else the first variant."""
    mp4 = [v for v in variants if v.content_type == "video/mp4"]
    if mp4:
        return max(mp4, key=lambda v: v.bitrate or 0).url
    return variants[0].url if variants else ""


def _size(media: Mapping[str, Any], path: str) -> tuple[int | None, int | None]:
    sizes_path = at(path, "sizes")
    sizes = opt_object(media, "sizes", path) or {}
    large = opt_object(sizes, "large", sizes_path)
    if large is None:
        return None, None
    large_path = at(sizes_path, "large")
    return opt_count(large, "w", large_path), opt_count(large, "h", large_path)
