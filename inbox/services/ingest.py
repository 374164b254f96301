"""Ingest of X DM events: the one path by which anything X tells us enters the inbox.

Webhooks, polling and backfill all end here, so duplicates, replays, echoes and out-of-order
deliveries are settled in one place. The rule: an event is identified by X's event id within its
conversation; the first ingest stores it, later ones return the stored row and change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import OperationalError, transaction
from django.utils import timezone

from inbox import events as activity
from inbox import realtime
from inbox.dm_events import DmEvent, DmEventType, XUserProfile
from inbox.models import Contact, Conversation, Inbox, Message, MessageAttachment, Participant
from inbox.services.assignment import auto_assign_enqueue
from inbox.services.contacts import contacts_upsert, contacts_upsert_many
from inbox.services.event_rows import (
    attachment_columns,
    attachment_new,
    event_user_ids,
    message_columns,
    message_new,
    profile_columns,
    x_sequence_of,
)
from inbox.services.rows import (
    for_update,
    hot_cursor,
    in_list,
    rows_columns,
    rows_insert,
    rows_instance,
    rows_select,
    rows_update,
)
from inbox.services.storable import columns_problem
from inbox.services.summaries import conversation_summaries_after_ingest, conversation_summaries_recompute

log = logging.getLogger(__name__)

_MESSAGE = Message.EventType.MESSAGE_CREATE
_REOPENED_BY_CUSTOMER = (Conversation.Status.RESOLVED, Conversation.Status.SNOOZED, Conversation.Status.PENDING)


@dataclass(frozen=True)
class IngestResult:
    message: Message
    created: bool
    event: DmEvent


class UnstorableEvent(ValueError):
    """An event whose rows the database would refuse (``storable``); ``problem`` says which value and why."""

    def __init__(self, event: DmEvent, problem: str) -> None:
        super().__init__(problem)
        self.event = event
        self.problem = problem


def dm_events_ingest(
    *,
    inbox: Inbox,
    events: Iterable[DmEvent],
    on_error: Callable[[DmEvent, Exception], None] | None = None,
    savepoints: bool = True,
) -> list[IngestResult]:
    """Ingest ``events`` oldest first, with the outcome of ``dm_event_ingest`` applied to each in turn.

    Every event is checked before anything is written (``event_problem``): one that could not be stored
    is set aside at once as an ``UnstorableEvent`` naming the value and why. Then messages go in together,
    in a few statements for the whole batch and one savepoint (``_messages_ingest_together``); what that
    path publishes is one ``conversation.created`` or ``conversation.updated`` per conversation (with
    every field that changed) and a ``message.created`` per new message. A batch holding a join or leave,
    or one that fails as a whole for any reason, goes one event at a time, each in its own savepoint.
    An event set aside or that cannot be stored is handed to ``on_error`` and the others go on (without
    ``on_error`` it is raised). Database failures that roll back the whole transaction
    (``OperationalError``: connection lost, deadlock) are always raised. Returns one result per event
    stored or found, oldest first.

    ``savepoints=False`` (the caller rolls back and tries again with savepoints if anything fails): messages
    alone, even one, go together without a savepoint, and whatever fails is raised.
    """
    ordered = sorted(events, key=lambda e: (e.created_at, x_sequence_of(e.x_event_id) or 0))
    storable = []
    for event in ordered:
        problem = event_problem(inbox=inbox, event=event)
        if problem is None:
            storable.append(event)
        elif on_error is None:
            raise UnstorableEvent(event, problem)
        else:
            on_error(event, UnstorableEvent(event, problem))
    only_messages = all(event.event_type == DmEventType.MESSAGE_CREATE for event in storable)
    if not savepoints and only_messages:
        return _messages_ingest_together(inbox, storable) if storable else []
    if len(storable) > 1 and only_messages:
        try:
            with transaction.atomic():
                return _messages_ingest_together(inbox, storable)
        except OperationalError:
            raise
        except Exception as exc:  # one event's fault or a conflict: find out which, one at a time
            log.warning("A batch of %d events failed (%r); storing them one at a time.", len(storable), exc)
    results = []
    for event in storable:
        try:
            results.append(_event_ingest(inbox, event))
        except OperationalError:
            raise
        except Exception as exc:
            if on_error is None:
                raise
            on_error(event, exc)
    return results


def event_problem(*, inbox: Inbox, event: DmEvent) -> str | None:
    """Why ``event`` could not be stored in ``inbox``, or None: the columns of its message and attachments and
    of the contacts its profiles refresh are checked (``storable.columns_problem``). A read; writes nothing."""
    problem = columns_problem(Message, message_columns(inbox, event))
    for media in event.attachments:
        problem = problem or columns_problem(MessageAttachment, attachment_columns(media))
    for profile in event.users.values():
        # contacts_upsert cuts a profile's text to its columns; what is left to check is the rest.
        problem = problem or columns_problem(Contact, profile_columns(profile))
    return problem


def _messages_ingest_together(inbox: Inbox, events: list[DmEvent]) -> list[IngestResult]:
    """``dm_event_ingest`` for many messages (in X's order) at once: rows read and written in bulk.

    Locks the contacts, then the conversations in id order (new ones are created one by one, as there).
    """
    contacts = _contacts_upsert_together(inbox, events)
    x_event_ids = sorted({event.x_event_id for event in events})
    conversations, holding = _conversations_locked(inbox, sorted({e.x_conversation_id for e in events}), x_event_ids)
    created_conversations = _conversations_create_together(inbox, events, conversations, contacts)
    by_pk = {conversation.pk: conversation for conversation in conversations.values()}

    stored = _messages_stored(holding, x_event_ids)
    results: list[IngestResult] = []
    new: list[tuple[Message, DmEvent]] = []
    changed: dict[int, set[str]] = {pk: set() for pk in by_pk}
    for event in events:
        conversation = conversations[event.x_conversation_id]
        key = (conversation.pk, event.x_event_id)
        if key in stored:
            existing = stored[key]
            existing.conversation = conversation
            if existing.pk is not None:  # stored before this batch (a message new in it has no id yet)
                _echo_confirm(existing)
            results.append(IngestResult(message=existing, created=False, event=event))
            continue
        message = message_new(inbox, conversation, event, contacts)
        stored[key] = message
        new.append((message, event))
        changed[conversation.pk] |= _customer_message_apply(conversation, message)
        results.append(IngestResult(message=message, created=True, event=event))

    rows_insert([message for message, _ in new])
    attachments = [attachment_new(message, media) for message, event in new for media in event.attachments]
    if attachments:
        MessageAttachment.objects.bulk_create(attachments)
    new_messages: dict[int, list[Message]] = {}
    for message, _ in new:
        if message.event_type == _MESSAGE:
            new_messages.setdefault(message.conversation_id, []).append(message)
    media_types = {message.pk: event.attachments[0].media_type for message, event in new if event.attachments}
    summaries = conversation_summaries_after_ingest(
        conversations=[by_pk[pk] for pk in sorted(new_messages)], new_messages=new_messages, media_types=media_types
    )
    for pk, summary_fields in summaries.items():
        changed[pk] |= summary_fields
    _conversations_save(by_pk, changed)
    members = {
        (message.conversation_id, contacts[x_id].pk) for message, event in new for x_id in event_user_ids(inbox, event)
    }
    rows_insert(
        [Participant(conversation_id=c, contact_id=contact) for c, contact in sorted(members)], ignore_conflicts=True
    )

    if created_conversations and inbox.auto_assign:
        auto_assign_enqueue(inbox_id=inbox.pk)
    _publish_together(conversations, created_conversations, changed, [message for message, _ in new])
    return results


def _conversations_locked(
    inbox: Inbox, x_conversation_ids: list[str], x_event_ids: list[str]
) -> tuple[dict[str, Conversation], list[int]]:
    """The inbox's conversations of ``x_conversation_ids`` that exist, locked in id order, and the ids of those
    that already hold a message with one of ``x_event_ids`` (X sent it again): only those need
    ``_messages_stored``, so a DM that is new costs no read of the messages.

    This read and the next are raw SQL (``rows_columns``): compiling them with the ORM cost a fifth of a
    one-DM ingest's CPU.
    """
    message = Message._meta.db_table
    sql = (
        f"SELECT {rows_columns(Conversation, 't')}, EXISTS (SELECT 1 FROM {message} m WHERE m.conversation_id = t.id"
        f" AND m.x_event_id IN {in_list(x_event_ids)}) FROM {Conversation._meta.db_table} t"
        f" WHERE t.inbox_id = %s AND t.x_conversation_id IN {in_list(x_conversation_ids)} ORDER BY t.id {for_update()}"
    )
    with hot_cursor() as cursor:
        cursor.execute(sql, [*x_event_ids, inbox.pk, *x_conversation_ids])
        rows = cursor.fetchall()
    found = [(rows_instance(Conversation, row[:-1]), bool(row[-1])) for row in rows]
    return {c.x_conversation_id: c for c, _ in found}, [c.pk for c, holds in found if holds]


def _messages_stored(conversation_ids: list[int], x_event_ids: list[str]) -> dict[tuple[int, str | None], Message]:
    """The messages already stored with one of ``x_event_ids`` in one of the conversations, by both."""
    if not conversation_ids:
        return {}
    found = rows_select(
        Message,
        f"t.conversation_id IN {in_list(conversation_ids)} AND t.x_event_id IN {in_list(x_event_ids)}",
        [*conversation_ids, *x_event_ids],
    )
    return {(m.conversation_id, m.x_event_id): m for m in found}


def _contacts_upsert_together(inbox: Inbox, events: list[DmEvent]) -> dict[str, Contact]:
    """The contacts of everyone in ``events``, created or updated with the newest profile X sent (X's order)."""
    sightings: dict[str, tuple[XUserProfile | None, datetime]] = {}
    for event in events:
        for x_user_id in event_user_ids(inbox, event):
            profile = event.users.get(x_user_id)
            if profile is not None or x_user_id not in sightings:
                sightings[x_user_id] = (profile, event.created_at)
    return contacts_upsert_many(sightings=sightings)


def _publish_together(
    conversations: dict[str, Conversation], created: set[int], changed: dict[int, set[str]], new: list[Message]
) -> None:
    """After commit: each new conversation, each changed one with what changed, then each new message."""
    for conversation in conversations.values():
        if conversation.pk in created:
            realtime.publish_conversation(conversation, event="conversation.created", changed=[])
        elif changed[conversation.pk]:
            realtime.publish_conversation(
                conversation, event="conversation.updated", changed=sorted(changed[conversation.pk])
            )
    for message in new:
        realtime.publish_message(message)


def _conversations_create_together(
    inbox: Inbox, events: list[DmEvent], conversations: dict[str, Conversation], contacts: dict[str, Contact]
) -> set[int]:
    """Create the conversations of ``events`` missing from ``conversations`` (which gets them); return their ids.

    One INSERT for all. When another worker created one of them meanwhile, the unique constraint refuses it,
    and ``dm_events_ingest`` stores the batch one event at a time, which joins that conversation.
    """
    first_events: dict[str, DmEvent] = {}
    for event in events:
        if event.x_conversation_id not in conversations:
            first_events.setdefault(event.x_conversation_id, event)
    if not first_events:
        return set()
    now = timezone.now()
    new = [_conversation_new(inbox, event, contacts, now) for event in first_events.values()]
    rows_insert(new)
    created = [(c, e.x_event_id) for c, e in zip(new, first_events.values(), strict=True)]
    rows_insert(activity.conversations_created_events(created=created))
    conversations.update((c.x_conversation_id, c) for c in new)
    return {c.pk for c in new}


def _conversation_new(inbox: Inbox, event: DmEvent, contacts: dict[str, Contact], now: datetime) -> Conversation:
    counterpart = event.one_to_one_counterpart(inbox.x_user_id)
    return Conversation(
        inbox=inbox,
        x_conversation_id=event.x_conversation_id,
        kind=Conversation.Kind.GROUP if event.is_group else Conversation.Kind.ONE_TO_ONE,
        contact=contacts.get(counterpart) if counterpart else None,
        status_changed_at=now,
    )


def _conversations_save(by_pk: dict[int, Conversation], changed: dict[int, set[str]]) -> None:
    to_save = [by_pk[pk] for pk, fields in changed.items() if fields]
    if not to_save:
        return
    now = timezone.now()  # rows_update does not apply auto_now
    for conversation in to_save:
        conversation.updated_at = now
    rows_update(to_save, sorted(set().union(*changed.values()) | {"updated_at"}))


def dm_event_ingest(*, inbox: Inbox, event: DmEvent) -> IngestResult:
    """Store one X DM event in ``inbox``, idempotently on its X event id.

    Changes: contacts (created, or refreshed from ``event.users``), the conversation (created on
    first sight; last message / last inbound / first response times and needs-reply; a customer
    message newer than the last status change reopens a resolved, snoozed or pending
    conversation), participants (join/leave by X's times, so order of arrival does not matter),
    the message row with its attachments, and activity rows.

    Locks: the conversation row (``SELECT ... FOR UPDATE``) for the rest of the transaction, so
    two workers ingesting the same conversation take turns; contacts are touched before it, in id
    order.

    Publishes after commit to the inbox's group: ``conversation.created`` or
    ``conversation.updated`` when the conversation changed, and ``message.created`` for a new
    message. A duplicate publishes nothing. A new conversation in an inbox with auto-assignment on
    enqueues ``inbox.auto_assign_pending`` after commit (``services/auto_assign.py``).

    An event that could not be stored (``event_problem``) raises ``UnstorableEvent`` and changes nothing.
    """
    problem = event_problem(inbox=inbox, event=event)
    if problem is not None:
        raise UnstorableEvent(event, problem)
    return _event_ingest(inbox, event)


def _event_ingest(inbox: Inbox, event: DmEvent) -> IngestResult:
    with transaction.atomic():
        contacts = contacts_upsert(
            x_user_ids=event_user_ids(inbox, event), profiles=event.users, seen_at=event.created_at
        )
        conversation, conversation_created = _conversation_locked(inbox, event, contacts)
        if conversation_created:
            activity.conversation_created_event(conversation=conversation, x_event_id=event.x_event_id)

        existing = Message.objects.filter(conversation=conversation, x_event_id=event.x_event_id).first()
        if existing is not None:
            _echo_confirm(existing)
            return IngestResult(message=existing, created=False, event=event)

        message = _message_create(inbox, conversation, event, contacts)
        changed = _conversation_apply(conversation, message)
        _participants_apply(inbox, conversation, event, contacts)

        if conversation_created:
            realtime.publish_conversation(conversation, event="conversation.created", changed=[])
            if inbox.auto_assign:
                auto_assign_enqueue(inbox_id=inbox.pk)
        elif changed:
            realtime.publish_conversation(conversation, event="conversation.updated", changed=changed)
        realtime.publish_message(message)
        return IngestResult(message=message, created=True, event=event)


def _conversation_locked(inbox: Inbox, event: DmEvent, contacts: dict[str, Contact]) -> tuple[Conversation, bool]:
    conversations = Conversation.objects.select_for_update()
    existing = conversations.filter(inbox=inbox, x_conversation_id=event.x_conversation_id).first()
    if existing is not None:
        return existing, False
    new = _conversation_new(inbox, event, contacts, timezone.now())
    defaults = {"kind": new.kind, "contact": new.contact, "status_changed_at": new.status_changed_at}
    conversation, created = Conversation.objects.get_or_create(
        inbox=inbox, x_conversation_id=event.x_conversation_id, defaults=defaults
    )
    return conversations.get(pk=conversation.pk), created


def _message_create(inbox: Inbox, conversation: Conversation, event: DmEvent, contacts: dict[str, Contact]) -> Message:
    message = message_new(inbox, conversation, event, contacts)
    message.save(force_insert=True)
    MessageAttachment.objects.bulk_create(attachment_new(message, media) for media in event.attachments)
    return message


def _echo_confirm(message: Message) -> None:
    """X echoed a message we sent (webhook or poll): it is confirmed, and stays one message."""
    if message.direction != Message.Direction.OUTBOUND or message.x_confirmed_at is not None:
        return
    message.x_confirmed_at = timezone.now()
    message.save(update_fields=["x_confirmed_at", "updated_at"])
    realtime.publish_message(message, event="message.updated")


def _conversation_apply(conversation: Conversation, message: Message) -> list[str]:
    """A new, stored message's effect on its conversation: the customer's rules, then the summary worked out
    again from the stored messages (``summaries``); saves and returns the fields changed."""
    if message.event_type != _MESSAGE:
        return []
    changed = _customer_message_apply(conversation, message)
    changed |= conversation_summaries_recompute(conversations=[conversation])[conversation.pk]
    if changed:
        conversation.save(update_fields=[*changed, "updated_at"])
    return sorted(changed)


def _customer_message_apply(conversation: Conversation, message: Message) -> set[str]:
    """What a customer's message does to its conversation besides the summary, in memory; returns the fields changed.

    The first customer to write becomes the conversation's contact when it has none, and a message newer than
    the last status change reopens a resolved, snoozed or pending conversation (recorded at once).
    """
    if message.event_type != _MESSAGE or message.direction != Message.Direction.INBOUND:
        return set()
    changed: dict[str, object] = {}
    if conversation.contact_id is None and message.sender_contact_id:
        changed["contact"] = message.sender_contact
    if conversation.status in _REOPENED_BY_CUSTOMER and message.occurred_at > conversation.status_changed_at:
        activity.conversation_reopened_event(
            conversation=conversation, previous_status=conversation.status, x_event_id=message.x_event_id or ""
        )
        changed.update(
            status=Conversation.Status.OPEN, status_changed_at=timezone.now(), snoozed_until=None, resolved_at=None
        )
    changed = {k: v for k, v in changed.items() if getattr(conversation, k) != v}
    for field_name, value in changed.items():
        setattr(conversation, field_name, value)
    return set(changed)


def _participants_apply(inbox: Inbox, conversation: Conversation, event: DmEvent, contacts: dict[str, Contact]) -> None:
    if event.event_type == DmEventType.MESSAGE_CREATE:
        everyone = [
            Participant(conversation=conversation, contact=contacts[x_id]) for x_id in event_user_ids(inbox, event)
        ]
        Participant.objects.bulk_create(everyone, ignore_conflicts=True)
        return
    joined = event.event_type == DmEventType.PARTICIPANTS_JOIN
    for x_user_id in sorted(set(event.participant_ids) - {inbox.x_user_id}):
        participant, _ = Participant.objects.get_or_create(conversation=conversation, contact=contacts[x_user_id])
        _membership_apply(participant, joined=joined, at=event.created_at)
        record = activity.participant_joined_event if joined else activity.participant_left_event
        record(conversation=conversation, x_user_id=x_user_id, x_event_id=event.x_event_id, at=event.created_at)


def _membership_apply(participant: Participant, *, joined: bool, at: datetime) -> None:
    """Keep the latest join and the latest leave; whichever is later decides membership."""
    if joined and (participant.joined_at is None or at > participant.joined_at):
        participant.joined_at = at
    if not joined and (participant.left_at is None or at > participant.left_at):
        participant.left_at = at
    participant.is_active = participant.left_at is None or (
        participant.joined_at is not None and participant.joined_at > participant.left_at
    )
    participant.save(update_fields=["joined_at", "left_at", "is_active"])
