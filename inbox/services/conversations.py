"""Changes agents make to a conversation's state."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from inbox import events as activity
from inbox import realtime
from inbox.models import Conversation


class ConversationStatusError(ValueError):
    pass


def conversation_status_set(
    *, conversation_id: int, status: str, actor: User | None, snoozed_until: datetime | None = None
) -> Conversation:
    """Set a conversation's status (open, pending, snoozed, resolved).

    ``snoozed_until`` only goes with ``snoozed``; left empty, the snooze lasts until the customer
    writes again. Resolving stamps ``resolved_at``. Writes a ``status_changed`` activity row.
    Locks the conversation row. Publishes ``conversation.updated`` after commit when the status
    changed; setting the current status again changes nothing.
    """
    if status not in Conversation.Status.values:
        raise ConversationStatusError(f"Unknown status {status!r}; expected one of {Conversation.Status.values}.")
    if snoozed_until is not None and status != Conversation.Status.SNOOZED:
        raise ConversationStatusError("A snooze time only goes with the 'snoozed' status.")
    if snoozed_until is not None and snoozed_until <= timezone.now():
        raise ConversationStatusError("A snooze must end in the future.")

    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.status == status and conversation.snoozed_until == snoozed_until:
            return conversation
        old = conversation.status
        now = timezone.now()
        conversation.status = status
        conversation.status_changed_at = now
        conversation.snoozed_until = snoozed_until
        conversation.resolved_at = now if status == Conversation.Status.RESOLVED else None
        conversation.save(update_fields=["status", "status_changed_at", "snoozed_until", "resolved_at", "updated_at"])
        activity.status_changed_event(
            conversation=conversation, actor=actor, old=old, new=status, snoozed_until=snoozed_until
        )
        realtime.publish_conversation(
            conversation,
            event="conversation.updated",
            changed=["resolved_at", "snoozed_until", "status", "status_changed_at"],
        )
        return conversation
