"""Changes agents make to a conversation's state."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from inbox import events as activity
from inbox import realtime
from inbox.models import Conversation, Inbox
from inbox.services.assignment import auto_assign_enqueue


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
        if old == Conversation.Status.OPEN and conversation.assignee_id is not None:
            # The assignee's capacity freed up: hand out what waits, if the inbox auto-assigns.
            if Inbox.objects.filter(pk=conversation.inbox_id, auto_assign=True).exists():
                auto_assign_enqueue(inbox_id=conversation.inbox_id)
        return conversation


WAKE_BATCH = 200


def snoozes_wake(*, now: datetime | None = None) -> int:
    """Reopen snoozed conversations whose ``snoozed_until`` has passed; return how many woke.

    Each woken conversation becomes ``open`` with a ``status_changed`` activity row (no actor: the
    snooze ran out) and publishes ``conversation.updated`` after commit. Rows are locked with SKIP
    LOCKED, so two beat runs (or an agent changing one meanwhile) never wake a conversation twice.
    Snoozes without a time wait for the customer's next message, which ingest handles.
    """
    now = now or timezone.now()
    woken = 0
    with transaction.atomic():
        due = (
            Conversation.objects.select_for_update(skip_locked=True)
            .filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
            .order_by("snoozed_until")[:WAKE_BATCH]
        )
        for conversation in due:
            conversation.status = Conversation.Status.OPEN
            conversation.status_changed_at = now
            conversation.snoozed_until = None
            conversation.save(update_fields=["status", "status_changed_at", "snoozed_until", "updated_at"])
            activity.status_changed_event(
                conversation=conversation, actor=None, old=Conversation.Status.SNOOZED, new=Conversation.Status.OPEN
            )
            realtime.publish_conversation(
                conversation, event="conversation.updated", changed=["snoozed_until", "status", "status_changed_at"]
            )
            woken += 1
    return woken
