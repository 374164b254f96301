"""Constructors for ``ConversationEvent`` rows, one per kind of change (Saleor's events pattern).

Only services call these, inside the transaction that makes the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from accounts.models import Team, User
from inbox.models import Conversation, ConversationEvent

Kind = ConversationEvent.Kind


def _event(
    conversation: Conversation, kind: str, *, actor: User | None = None, **parameters: object
) -> ConversationEvent:
    return ConversationEvent.objects.create(conversation=conversation, kind=kind, actor=actor, parameters=parameters)


def conversation_created_event(*, conversation: Conversation, x_event_id: str | None) -> ConversationEvent:
    return _event(conversation, Kind.CREATED, x_event_id=x_event_id)


def conversations_created_events(*, created: Sequence[tuple[Conversation, str | None]]) -> list[ConversationEvent]:
    """``conversation_created_event`` for many (conversation, first X event id) pairs, not yet saved: the
    ingest inserts them with the rest of its batch (``rows_insert``)."""
    return [
        ConversationEvent(conversation=conversation, kind=Kind.CREATED, parameters={"x_event_id": x_event_id})
        for conversation, x_event_id in created
    ]


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


def assigned_event(
    *, conversation: Conversation, actor: User | None, old_assignee: User | None, new_assignee: User | None
) -> ConversationEvent:
    return _event(
        conversation,
        Kind.ASSIGNED,
        actor=actor,
        old_assignee_id=old_assignee.pk if old_assignee else None,
        old_assignee_name=old_assignee.display_name if old_assignee else None,
        new_assignee_id=new_assignee.pk if new_assignee else None,
        new_assignee_name=new_assignee.display_name if new_assignee else None,
    )


def team_assigned_event(
    *, conversation: Conversation, actor: User | None, old_team: Team | None, new_team: Team | None
) -> ConversationEvent:
    return _event(
        conversation,
        Kind.TEAM_ASSIGNED,
        actor=actor,
        old_team_id=old_team.pk if old_team else None,
        old_team_name=old_team.name if old_team else None,
        new_team_id=new_team.pk if new_team else None,
        new_team_name=new_team.name if new_team else None,
    )


def note_added_event(*, conversation: Conversation, actor: User, note_id: int) -> ConversationEvent:
    return _event(conversation, Kind.NOTE_ADDED, actor=actor, note_id=note_id)


def priority_changed_event(*, conversation: Conversation, actor: User, old: int, new: int) -> ConversationEvent:
    return _event(conversation, Kind.PRIORITY_CHANGED, actor=actor, old=old, new=new)


def labels_changed_event(
    *, conversation: Conversation, actor: User, added: list[str], removed: list[str]
) -> ConversationEvent:
    return _event(conversation, Kind.LABELS_CHANGED, actor=actor, added=added, removed=removed)


def started_from_event(*, conversation: Conversation, post_id: str, summary: str, message_id: int) -> ConversationEvent:
    return _event(conversation, Kind.STARTED_FROM, post_id=post_id, summary=summary, message_id=message_id)
