"""What a customer does on X between messages: typing, and reading our messages ("seen").

Both arrive as webhook events of the subscribed account (``inbox.dm_events.TypingEvent``/``ReadEvent``).
X also sends the account events naming two other users, and events about the account's own typing
and reading (from X's apps); only the customer's, in a one-to-one conversation the inbox already has,
reach agents. A signal never creates a conversation: it has no message to show.
"""

from __future__ import annotations

from django.db import transaction

from inbox import realtime
from inbox.dm_events import ReadEvent, TypingEvent
from inbox.models import Conversation, Inbox, Message


def _customer_conversation(inbox: Inbox, *, x_conversation_id: str, actor_id: str) -> Conversation | None:
    """The inbox's one-to-one conversation ``x_conversation_id`` if ``actor_id`` is the customer in it."""
    members = x_conversation_id.split("-")
    if len(members) != 2 or inbox.x_user_id not in members or actor_id not in members:
        return None
    if actor_id == inbox.x_user_id:
        return None
    return Conversation.objects.filter(inbox=inbox, x_conversation_id=x_conversation_id).first()


def customer_typing_signal(*, inbox: Inbox, event: TypingEvent) -> Conversation | None:
    """Publish ``customer.typing`` to the inbox's group when ``event`` is the customer of one of its conversations.

    Changes nothing and locks nothing. Returns the conversation, or None when the event was ignored (it
    names other users, our own account, or a conversation the inbox does not have).
    """
    conversation = _customer_conversation(inbox, x_conversation_id=event.x_conversation_id, actor_id=event.sender_id)
    if conversation is not None:
        realtime.publish_customer_typing(conversation, x_user_id=event.sender_id, at=event.created_at)
    return conversation


def customer_read_record(*, inbox: Inbox, event: ReadEvent) -> Conversation | None:
    """Record that the customer read the conversation up to ``event.last_read_event_id``; publish ``customer.seen``.

    Changes ``Conversation.customer_read_event_id``/``customer_read_at``, forward only: a receipt for an
    older or the same event (X retries, deliveries out of order) changes and publishes nothing. Locks the
    conversation row. Returns the conversation when it moved forward, else None (ignored as for typing).
    """
    found = _customer_conversation(inbox, x_conversation_id=event.x_conversation_id, actor_id=event.reader_id)
    if found is None:
        return None
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=found.pk)
        current = conversation.customer_read_event_id
        if current and int(current) >= int(event.last_read_event_id):
            return None
        conversation.customer_read_event_id = event.last_read_event_id
        conversation.customer_read_at = event.created_at
        conversation.save(update_fields=["customer_read_event_id", "customer_read_at", "updated_at"])
        message_id = (
            Message.objects.filter(conversation=conversation, x_event_id=event.last_read_event_id)
            .values_list("pk", flat=True)
            .first()
        )
        realtime.publish_customer_seen(conversation, message_id=message_id)
    return conversation
