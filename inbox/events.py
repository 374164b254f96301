"""Constructors for ``ConversationEvent`` rows, one per kind of change (Saleor's events pattern).

Only services call these, inside the transaction that makes the change.
"""

from __future__ import annotations

from datetime import datetime

from accounts.models import User
from inbox.models import Conversation, ConversationEvent

Kind = ConversationEvent.Kind


def _event(
    conversation: Conversation, kind: str, *, actor: User | None = None, **parameters: object
) -> ConversationEvent:
    return ConversationEvent.objects.create(conversation=conversation, kind=kind, actor=actor, parameters=parameters)


def conversation_created_event(*, conversation: Conversation, x_event_id: str | None) -> ConversationEvent:
    return _event(conversation, Kind.CREATED, x_event_id=x_event_id)


def conversation_reopened_event(
    *, conversation: Conversation, previous_status: str, x_event_id: str, actor: User | None = None
) -> ConversationEvent:
    return _event(conversation, Kind.REOPENED, actor=actor, previous_status=previous_status, x_event_id=x_event_id)


def status_changed_event(
    *, conversation: Conversation, actor: User | None, old: str, new: str, snoozed_until: datetime | None = None
) -> ConversationEvent:
    return _event(
        conversation,
        Kind.STATUS_CHANGED,
        actor=actor,
        old=old,
        new=new,
        snoozed_until=snoozed_until.isoformat() if snoozed_until else None,
    )


def participant_joined_event(
    *, conversation: Conversation, x_user_id: str, x_event_id: str, at: datetime
) -> ConversationEvent:
    return _event(conversation, Kind.PARTICIPANT_JOINED, x_user_id=x_user_id, x_event_id=x_event_id, at=at.isoformat())


def participant_left_event(
    *, conversation: Conversation, x_user_id: str, x_event_id: str, at: datetime
) -> ConversationEvent:
    return _event(conversation, Kind.PARTICIPANT_LEFT, x_user_id=x_user_id, x_event_id=x_event_id, at=at.isoformat())
