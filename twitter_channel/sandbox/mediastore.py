"""Media uploads as X takes them: INIT → APPEND segments → FINALIZE → STATUS while processing.

Photos are ready at FINALIZE. GIFs and videos are ``pending`` for ``check_after_secs``, then
``in_progress`` until ``PROCESSING_SECS`` have passed on the sandbox clock, then ``succeeded``.
The 24-hour attach window (``expires_after_secs``) starts when the upload completes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from twitter_channel.sandbox import clock, ids, problems
from twitter_channel.sandbox.models import Conversation, DmEvent, Media, MediaSegment, XUser

MB = 1024 * 1024
EXPIRES_AFTER_SECS = 24 * 60 * 60
CHECK_AFTER_SECS = 1
PROCESSING_SECS = 3
MAX_SEGMENT_BYTES = 5 * MB
MAX_SEGMENT_INDEX = 999
IMAGE_TYPES = ("image/jpeg", "image/pjpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/quicktime")


@dataclass(frozen=True)
class Kind:
    key_prefix: str
    max_bytes: int
    mime_types: tuple[str, ...]
    processed: bool


PHOTO = Kind("3", 5 * MB, IMAGE_TYPES, processed=False)
ANIMATED_GIF = Kind("16", 15 * MB, ("image/gif",), processed=True)
VIDEO = Kind("7", 512 * MB, VIDEO_TYPES, processed=True)
KINDS: dict[str, Kind] = {
    "dm_image": PHOTO,
    "tweet_image": PHOTO,
    "dm_gif": ANIMATED_GIF,
    "tweet_gif": ANIMATED_GIF,
    "dm_video": VIDEO,
    "tweet_video": VIDEO,
}
ONE_SHOT_CATEGORIES = ("dm_image", "tweet_image")


def kind_for(category: str) -> Kind:
    """The kind of media a ``media_category`` uploads (400 problem for an unknown one)."""
    kind = KINDS.get(category)
    if kind is None:
        raise problems.invalid_request(
            f"The `media_category` value [{category}] is not one of [{','.join(KINDS)}]",
            {"media_category": [str(category)]},
        )
    return kind


def check_upload(*, category: str, mime: str, total_bytes: int) -> Kind:
    """Validate category, type and size as X does at INIT; the kind on success."""
    kind = kind_for(category)
    if mime not in kind.mime_types:
        raise problems.invalid_request(
            f"The `media_type` value [{mime}] is not allowed for media_category [{category}]; "
            f"expected one of [{','.join(kind.mime_types)}]",
            {"media_type": [str(mime)]},
        )
    if isinstance(total_bytes, bool) or not isinstance(total_bytes, int) or total_bytes <= 0:
        raise problems.invalid_request("`total_bytes` must be a positive integer.", {"total_bytes": [str(total_bytes)]})
    if total_bytes > kind.max_bytes:
        raise problems.invalid_request(
            f"File size exceeds {kind.max_bytes} bytes for media_category [{category}].",
            {"total_bytes": [str(total_bytes)]},
        )
    return kind


def _new(*, owner: XUser, mime: str, category: str, total_bytes: int, shared: bool, **fields: Any) -> Media:
    kind = check_upload(category=category, mime=mime, total_bytes=total_bytes)
    media_id = str(ids.snowflake())
    return Media.objects.create(
        media_id=media_id,
        media_key=f"{kind.key_prefix}_{media_id}",
        owner=owner,
        media_category=category,
        media_type=mime,
        total_bytes=total_bytes,
        shared=shared,
        created_at=clock.now(),
        **fields,
    )


def media_create_complete(*, owner: XUser, data: bytes, mime: str, category: str, alt_text: str = "") -> Media:
    """An upload done in one go and ready to attach (state ``succeeded``), e.g. for the simulator."""
    return _new(
        owner=owner,
        mime=mime,
        category=category,
        total_bytes=len(data),
        shared=False,
        data=data,
        state=Media.State.SUCCEEDED,
        finalized=True,
        alt_text=alt_text[:1000],
    )


def media_initialize(*, owner: XUser, mime: str, total_bytes: int, category: str, shared: bool = False) -> Media:
    return _new(owner=owner, mime=mime, category=category, total_bytes=total_bytes, shared=bool(shared))


def media_one_shot(*, owner: XUser, data: bytes, mime: str, category: str, shared: bool = False) -> Media:
    """``POST /2/media/upload`` with the whole file: only image (and subtitle) categories."""
    if category not in ONE_SHOT_CATEGORIES:
        raise problems.invalid_request(
            f"The `media_category` value [{category}] is not one of [{','.join(ONE_SHOT_CATEGORIES)}]",
            {"media_category": [str(category)]},
        )
    media = media_initialize(owner=owner, mime=mime, total_bytes=len(data), category=category, shared=shared)
    media_append(owner=owner, media_id=media.media_id, index=0, data=data)
    return media_finalize(owner=owner, media_id=media.media_id)


def owned(owner: XUser, media_id: str) -> Media:
    """The caller's upload ``media_id``; X answers 400 for ids it cannot find for this user."""
    media = Media.objects.filter(media_id=str(media_id), owner=owner).first() if str(media_id).isdigit() else None
    if media is None:
        raise problems.invalid_request(f"Media id {media_id} is not valid or not found.", {"media_id": [str(media_id)]})
    return media


def _segment_index(value: object) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) > MAX_SEGMENT_INDEX:
        raise problems.invalid_request(
            f"`segment_index` must be an integer from 0 to {MAX_SEGMENT_INDEX}.", {"segment_index": [text]}
        )
    return int(text)


@transaction.atomic
def media_append(*, owner: XUser, media_id: str, index: object, data: bytes) -> Media:
    media = owned(owner, media_id)
    if media.finalized:
        raise problems.invalid_request(f"Media id {media_id} is already finalized.", {"media_id": [str(media_id)]})
    position = _segment_index(index)
    if not data:
        raise problems.invalid_request("`media` is required and must not be empty.", {"media": [""]})
    if len(data) > MAX_SEGMENT_BYTES:
        raise problems.invalid_request(f"A segment must be at most {MAX_SEGMENT_BYTES} bytes.", {"media": ["..."]})
    MediaSegment.objects.update_or_create(media=media, index=position, defaults={"data": data})
    return media


@transaction.atomic
def media_finalize(*, owner: XUser, media_id: str) -> Media:
    media = owned(owner, media_id)
    if media.finalized:
        return media
    segments = list(media.segments.order_by("index"))
    size = sum(len(s.data) for s in segments)
    if size != media.total_bytes:
        raise problems.invalid_request(
            f"File size mismatch: total_bytes is {media.total_bytes} but {size} bytes were appended.",
            {"media_id": [media.media_id]},
        )
    media.data = b"".join(bytes(s.data) for s in segments)
    media.finalized = True
    media.created_at = clock.now()
    processed = kind_for(media.media_category).processed
    media.state = Media.State.PENDING if processed else Media.State.SUCCEEDED
    media.save(update_fields=["data", "finalized", "created_at", "state"])
    media.segments.all().delete()
    return media


def settle(media: Media) -> Media:
    """Move a finalized GIF or video along its processing states as the sandbox clock has passed."""
    if not media.finalized or media.state in (Media.State.SUCCEEDED, Media.State.FAILED):
        return media
    state = _state_at(_elapsed(media))
    if state != media.state:
        media.state = state
        media.save(update_fields=["state"])
    return media


def _elapsed(media: Media) -> float:
    return (clock.now() - media.created_at).total_seconds()


def _state_at(elapsed: float) -> str:
    if elapsed < CHECK_AFTER_SECS:
        return Media.State.PENDING
    if elapsed < PROCESSING_SECS:
        return Media.State.IN_PROGRESS
    return Media.State.SUCCEEDED


def expires_after_secs(media: Media) -> int:
    return max(EXPIRES_AFTER_SECS - int(_elapsed(media)), 0)


def processing_info(media: Media) -> dict[str, Any]:
    """X's ``processing_info`` for STATUS: state, ``progress_percent`` and, while busy, ``check_after_secs``."""
    settle(media)
    if media.state == Media.State.SUCCEEDED:
        return {"state": media.state, "progress_percent": 100}
    if media.state == Media.State.FAILED:
        return {"state": media.state, "progress_percent": 0}
    elapsed = _elapsed(media) if media.finalized else 0.0
    percent = int(min(max(elapsed, 0.0) / PROCESSING_SECS, 0.99) * 100)
    until = CHECK_AFTER_SECS if media.state == Media.State.PENDING else PROCESSING_SECS
    wait = max(math.ceil(until - elapsed), 1)
    return {"state": media.state, "check_after_secs": wait, "progress_percent": percent}


def upload_body(media: Media, *, status: bool = False) -> dict[str, Any]:
    """The ``data`` of INIT (unfinalized), FINALIZE and STATUS responses, shaped like the fixtures."""
    data: dict[str, Any] = {"id": media.media_id, "media_key": media.media_key}
    if media.finalized:
        data["size"] = media.total_bytes
    data["expires_after_secs"] = expires_after_secs(media)
    if status:
        data["processing_info"] = processing_info(media)
    elif media.finalized and media.state != Media.State.SUCCEEDED:
        settle(media)
        data["processing_info"] = {"state": media.state, "check_after_secs": CHECK_AFTER_SECS}
    return data


def readable(user: XUser, media_id: str, event_id: str | None = None) -> Media:
    """Media ``user`` may download: their own upload, or one a DM (``event_id`` if named) carries
    in a conversation they are in. 404 problem for unknown media, 403 for anyone else's."""
    media = Media.objects.filter(media_id=media_id, finalized=True).first() if media_id.isdigit() else None
    if media is None:
        raise problems.not_found("media", media_id, "media_id")
    events = DmEvent.objects.filter(media=media)
    if event_id is not None:
        events = events.filter(event_id=event_id)
    elif media.owner_id == user.pk:
        return media
    shared = Conversation.objects.filter(
        pk__in=events.values("conversation"), memberships__user=user, memberships__left_at__isnull=True
    )
    if not shared.exists():
        raise problems.forbidden("You are not permitted to access this media.")
    return media
