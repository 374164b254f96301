"""Reads for an open conversation: a window of its timeline, one message, the contact sidebar.

The timeline interleaves X's events (messages, joins and leaves) with internal notes. Each item has a
``sort_key`` that orders it exactly as the thread is ordered (X's time, X's event id, arrival), so the
browser can slot a live message into place without knowing the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from inbox.models import Contact, Conversation, ConversationEvent, Message, Note
from inbox.selectors import access as selectors
from inbox.selectors.replies import undo_deadline

WINDOW = 50
_NO_SEQUENCE = 10**20 - 1  # messages X has not numbered yet (a queued reply) sort after numbered ones


@dataclass
class TimelineItem:
    kind: str  # "message", "note" or "event" (the activity log)
    item: Message | Note | ConversationEvent
    sort_key: str

    @property
    def dom_id(self) -> str:
        return f"{self.kind}-{self.item.pk}"


@dataclass
class Timeline:
    items: list[TimelineItem]
    earlier_cursor: int | None  # the message id to load earlier items before, None at the start


@dataclass
class Sidebar:
    contact: Contact | None
    participants: list[Contact]
    past: list[Conversation]


def conversation_for_user(user: User, conversation_id: int) -> Conversation | None:
    """The conversation if ``user`` may see its inbox; None otherwise, as for a missing id."""
    return (
        Conversation.objects.filter(pk=conversation_id, inbox__in=selectors.inboxes_visible_to(user).values("pk"))
        .select_related("inbox", "contact", "assignee", "team")
        .first()
    )


def _key(at: datetime, sequence: int | None, pk: int, kind: str) -> str:
    number = sequence if sequence is not None else _NO_SEQUENCE
    return f"{at.timestamp():017.6f}|{number:020d}|{kind}{pk:012d}"


def message_key(message: Message) -> str:
    return _key(message.occurred_at, message.x_sequence, message.pk, "m")


def note_key(note: Note) -> str:
    return _key(note.created_at, _NO_SEQUENCE, note.pk, "n")


def event_key(event: ConversationEvent) -> str:
    return _key(event.created_at, _NO_SEQUENCE, event.pk, "e")


# What the activity log shows among the messages (joins, leaves and notes are items of their own).
LOGGED_KINDS = [
    ConversationEvent.Kind.REOPENED,
    ConversationEvent.Kind.STATUS_CHANGED,
    ConversationEvent.Kind.ASSIGNED,
    ConversationEvent.Kind.TEAM_ASSIGNED,
    ConversationEvent.Kind.PRIORITY_CHANGED,
    ConversationEvent.Kind.LABELS_CHANGED,
    ConversationEvent.Kind.STARTED_FROM,
]


def _messages(conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.select_related("sender_contact", "sender_agent").prefetch_related("attachments")


def _earlier_than(message: Message) -> Q:
    at, sequence, pk = message.occurred_at, message.x_sequence, message.pk
    if sequence is None:
        same_time = Q(x_sequence__isnull=False) | Q(x_sequence__isnull=True, pk__lt=pk)
    else:
        same_time = Q(x_sequence__lt=sequence) | Q(x_sequence=sequence, pk__lt=pk)
    return Q(occurred_at__lt=at) | (Q(occurred_at=at) & same_time)


def timeline(conversation: Conversation, *, before: Message | None = None) -> Timeline:
    """The latest ``WINDOW`` messages (before ``before`` when given), with the notes written among them."""
    messages = _messages(conversation)
    if before is not None:
        messages = messages.filter(_earlier_than(before))
    # unnumbered replies sort last in the thread, so first from the newest end
    newest_first = messages.order_by("-occurred_at", F("x_sequence").desc(nulls_first=True), "-pk")
    window = list(newest_first[: WINDOW + 1])
    more = len(window) > WINDOW
    window = list(reversed(window[:WINDOW]))
    notes = conversation.notes.select_related("author")
    if more and window:
        notes = notes.filter(created_at__gte=window[0].occurred_at)
    if before is not None:
        notes = notes.filter(created_at__lt=before.occurred_at)
    events = conversation.events.filter(kind__in=LOGGED_KINDS).select_related("actor")
    if more and window:
        events = events.filter(created_at__gte=window[0].occurred_at)
    if before is not None:
        events = events.filter(created_at__lt=before.occurred_at)
    items = [TimelineItem("message", m, message_key(m)) for m in window]
    items += [TimelineItem("note", n, note_key(n)) for n in notes]
    items += [TimelineItem("event", e, event_key(e)) for e in events]
    items.sort(key=lambda item: item.sort_key)
    _annotate(conversation, window)
    return Timeline(items=items, earlier_cursor=window[0].pk if more and window else None)


def _annotate(conversation: Conversation, messages: list[Message]) -> None:
    """Seen markers (from X's read receipts) and the names of who joined or left."""
    read_up_to = int(conversation.customer_read_event_id) if conversation.customer_read_event_id else None
    membership_ids = {x_id for m in messages for x_id in m.participant_x_ids}
    names = (
        dict(Contact.objects.filter(x_user_id__in=membership_ids).values_list("x_user_id", "name"))
        if membership_ids
        else {}
    )
    now = timezone.now()
    for message in messages:
        deadline = undo_deadline(message)
        message.undo_open = deadline is not None and deadline > now
        message.is_seen = bool(
            read_up_to is not None
            and message.direction == Message.Direction.OUTBOUND
            and message.x_sequence is not None
            and message.x_sequence <= read_up_to
        )
        message.participant_names = [names.get(x_id) or f"X user {x_id}" for x_id in message.participant_x_ids]


def message_item(conversation: Conversation, message_id: int) -> TimelineItem | None:
    message = _messages(conversation).filter(pk=message_id).first()
    if message is None:
        return None
    _annotate(conversation, [message])
    return TimelineItem("message", message, message_key(message))


def note_item(conversation: Conversation, note_id: int) -> TimelineItem | None:
    note = conversation.notes.select_related("author").filter(pk=note_id).first()
    return TimelineItem("note", note, note_key(note)) if note else None


def sidebar(user: User, conversation: Conversation) -> Sidebar:
    """The customer's profile, a group's participants, and the customer's other conversations."""
    participants: list[Contact] = []
    if conversation.kind == Conversation.Kind.GROUP:
        participants = [p.contact for p in conversation.participants.filter(is_active=True).select_related("contact")]
    past: list[Conversation] = []
    if conversation.contact_id:
        past = list(
            Conversation.objects.filter(
                contact_id=conversation.contact_id, inbox__in=selectors.inboxes_visible_to(user).values("pk")
            )
            .exclude(pk=conversation.pk)
            .select_related("inbox")
            .order_by("-last_message_at")[:10]
        )
    return Sidebar(contact=conversation.contact, participants=participants, past=past)


def collision_since(conversation: Conversation, *, after_message_id: int, user: User) -> str | None:
    """Why an agent's reply should be held: the customer wrote, or someone else replied, after the message
    ``after_message_id`` (the newest one the agent's page had when they opened the conversation)."""
    newer = conversation.messages.filter(pk__gt=after_message_id)
    if newer.filter(direction=Message.Direction.INBOUND).exists():
        return "New message from the customer since you opened this conversation. Send anyway?"
    other = (
        newer.filter(direction=Message.Direction.OUTBOUND)
        .exclude(sender_agent=user)
        .select_related("sender_agent")
        .order_by("pk")
        .first()
    )
    if other is not None:
        who = other.sender_agent.display_name if other.sender_agent else "Someone using X directly"
        return f"{who} replied since you opened this conversation. Send anyway?"
    return None
