"""Normalized X DM events: what ``twitter_channel`` hands to ``inbox.services``.

The inbox owns these types so that it never reads X's JSON itself; each payload family
(Account Activity, X Activity, v2 ``dm_events``) is turned into them by ``twitter_channel.inbound.parsing.payloads``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


class DmEventType(enum.StrEnum):
    MESSAGE_CREATE = "MessageCreate"
    PARTICIPANTS_JOIN = "ParticipantsJoin"
    PARTICIPANTS_LEAVE = "ParticipantsLeave"


@dataclass(frozen=True)
class XUserProfile:
    """What a payload told us about an X user; ``None`` means "not in this payload", not "empty"."""

    x_user_id: str
    handle: str | None = None
    name: str | None = None
    avatar_url: str | None = None
    description: str | None = None
    location: str | None = None
    followers_count: int | None = None
    verified: bool | None = None
    protected: bool | None = None


class MediaVariant(NamedTuple):
    """One encoding of a video or GIF; ``bitrate`` is None when X did not say."""

    bitrate: int | None
    content_type: str
    url: str


@dataclass(frozen=True)
class DmMedia:
    """A DM attachment.

    DM media is private: ``download_url`` (and ``url``, ``variants``) must be fetched with the
    account's own user-context auth, never handed to a browser as is.
    """

    media_type: str
    media_key: str = ""
    url: str = ""
    preview_url: str = ""
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    alt_text: str = ""
    media_id: str = ""
    variants: tuple[MediaVariant, ...] = ()
    download_url: str = ""
    duration_ms: int | None = None


@dataclass(frozen=True)
class DmEvent:
    """One event of a DM conversation, as X numbered and timed it.

    ``participant_ids`` are the users who joined or left (membership events only).
    ``users`` holds the profiles delivered alongside the event, keyed by X user id.
    ``entities`` is normalized: ``urls``, ``hashtags``, ``mentions`` and ``cashtags`` lists with
    ``start``/``end`` (end exclusive); a url has ``url``, ``expanded_url``, ``display_url`` and
    ``media`` (True for the t.co link X appends for an attachment, which the UI hides).
    ``source_app_id``/``source_app_name``: the app the message was sent from, when X said.
    ``initiated_via_post_id``/``welcome_message_id``: what started the conversation, when X said.
    """

    x_event_id: str
    event_type: DmEventType
    x_conversation_id: str
    created_at: datetime
    sender_id: str | None = None
    text: str = ""
    participant_ids: tuple[str, ...] = ()
    entities: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    attachments: tuple[DmMedia, ...] = ()
    referenced_post_ids: tuple[str, ...] = ()
    quick_reply_response: Mapping[str, object] | None = None
    users: Mapping[str, XUserProfile] = field(default_factory=dict)
    initiated_via_post_id: str | None = None
    welcome_message_id: str | None = None
    source_app_id: str | None = None
    source_app_name: str | None = None

    def __post_init__(self) -> None:
        if not self.x_event_id.isdigit():
            raise ValueError(f"X event id must be numeric, got {self.x_event_id!r}")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        if self.event_type != DmEventType.MESSAGE_CREATE and not self.participant_ids:
            raise ValueError(f"{self.event_type} needs participant_ids")

    @property
    def is_group(self) -> bool:
        """One-to-one conversation ids are ``<low>-<high>``; group ids are a single number."""
        return "-" not in self.x_conversation_id

    def one_to_one_counterpart(self, own_x_user_id: str) -> str | None:
        if self.is_group:
            return None
        ids = self.x_conversation_id.split("-")
        others = [i for i in ids if i != own_x_user_id]
        return others[0] if others else None


@dataclass(frozen=True)
class TypingEvent:
    """``sender_id`` is typing in a one-to-one conversation (X shows it for about 3 seconds)."""

    x_conversation_id: str
    sender_id: str
    created_at: datetime
    users: Mapping[str, XUserProfile] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadEvent:
    """``reader_id`` has read the conversation up to and including ``last_read_event_id``."""

    x_conversation_id: str
    reader_id: str
    last_read_event_id: str
    created_at: datetime
    users: Mapping[str, XUserProfile] = field(default_factory=dict)
