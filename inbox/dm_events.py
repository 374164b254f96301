"""Normalized X DM events: what ``twitter_channel`` hands to ``inbox.services``.

The inbox owns these types so that it never reads X's JSON itself; each payload family
(Account Activity, X Activity, v2 ``dm_events``) is turned into them by ``twitter_channel.parsing``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


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


@dataclass(frozen=True)
class DmMedia:
    media_type: str
    media_key: str = ""
    url: str = ""
    preview_url: str = ""
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    alt_text: str = ""


@dataclass(frozen=True)
class DmEvent:
    """One event of a DM conversation, as X numbered and timed it.

    ``participant_ids`` are the users who joined or left (membership events only).
    ``users`` holds the profiles delivered alongside the event, keyed by X user id.
    """

    x_event_id: str
    event_type: DmEventType
    x_conversation_id: str
    created_at: datetime
    sender_id: str | None = None
    text: str = ""
    participant_ids: tuple[str, ...] = ()
    entities: Mapping[str, object] = field(default_factory=dict)
    attachments: tuple[DmMedia, ...] = ()
    referenced_post_ids: tuple[str, ...] = ()
    quick_reply_response: Mapping[str, object] | None = None
    users: Mapping[str, XUserProfile] = field(default_factory=dict)

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
