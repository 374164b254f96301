"""How a conversation is sorted: its priority and its labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction

from accounts.models import User
from inbox import events as activity
from inbox import realtime
from inbox.models import Conversation, Label


class TriageError(ValueError):
    pass


def conversation_priority_set(*, conversation_id: int, priority: int, actor: User) -> Conversation:
    """Set the priority (none, low, medium, high, urgent). Locks the conversation row; writes a
    ``priority_changed`` activity row and publishes ``conversation.updated`` when it changed."""
    if priority not in Conversation.Priority.values:
        names = ", ".join(f"{value} ({label})" for value, label in Conversation.Priority.choices)
        raise TriageError(f"Unknown priority {priority!r}; use one of {names}.")
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.priority == priority:
            return conversation
        old = conversation.priority
        conversation.priority = priority
        conversation.save(update_fields=["priority", "updated_at"])
        activity.priority_changed_event(conversation=conversation, actor=actor, old=old, new=priority)
        realtime.publish_conversation(conversation, event="conversation.updated", changed=["priority"])
        return conversation


def conversation_labels_set(*, conversation_id: int, label_ids: Iterable[int], actor: User) -> Conversation:
    """Make the conversation's labels exactly ``label_ids``. Locks the conversation row; writes a
    ``labels_changed`` activity row (added and removed names) and publishes ``conversation.updated``."""
    wanted = set(label_ids)
    return _labels_change(conversation_id=conversation_id, actor=actor, known=wanted, wanted=lambda _current: wanted)


def conversation_labels_change(
    *, conversation_id: int, actor: User, add: Iterable[int] = (), remove: Iterable[int] = ()
) -> Conversation:
    """Add and take away labels, keeping the others (the list's bulk label actions). Same lock, activity
    row and event as ``conversation_labels_set``."""
    added, removed = set(add), set(remove)
    return _labels_change(
        conversation_id=conversation_id,
        actor=actor,
        known=added | removed,
        wanted=lambda current: (current | added) - removed,
    )


def _labels_change(
    *, conversation_id: int, actor: User, known: set[int], wanted: Callable[[set[int]], set[int]]
) -> Conversation:
    labels = {label.pk: label for label in Label.objects.filter(pk__in=known)}
    unknown = known - set(labels)
    if unknown:
        raise TriageError(f"No such label: {', '.join(str(pk) for pk in sorted(unknown))}.")
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        current = {label.pk: label for label in conversation.labels.all()}
        target = wanted(set(current))
        added, removed = target - set(current), set(current) - target
        if not added and not removed:
            return conversation
        conversation.labels.add(*added)
        conversation.labels.remove(*removed)
        conversation.save(update_fields=["updated_at"])
        activity.labels_changed_event(
            conversation=conversation,
            actor=actor,
            added=sorted(labels[pk].name for pk in added),
            removed=sorted(current[pk].name for pk in removed),
        )
        realtime.publish_conversation(conversation, event="conversation.updated", changed=["labels"])
        return conversation
