"""Live push: group names and ``publish``. Only services call ``publish``.

An event is a flat dict ``{"type": "inbox.event", "event": "<name>", "data": {...ids and small
fields...}}`` sent to Channels groups after the surrounding transaction commits. Clients fetch
anything bigger through views. Group names:

- ``inbox.<id>``: everyone who may see that inbox's conversations;
- ``agent.<id>``: one agent's own notifications.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from inbox.models import Conversation, Message

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "inbox.event"


def inbox_group(inbox_id: int) -> str:
    return f"inbox.{inbox_id}"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def publish(*, groups: Iterable[str], event: str, data: dict[str, Any]) -> None:
    """Send ``event`` to ``groups`` once the current transaction commits (at once outside one).

    The payload goes through JSON here, so one that cannot be serialized fails in the service that
    built it rather than later inside an on-commit callback.
    """
    message = {"type": MESSAGE_TYPE, "event": event, "data": json.loads(json.dumps(data))}
    targets = tuple(dict.fromkeys(groups))
    transaction.on_commit(lambda: _group_send(targets, message), robust=True)


def _group_send(groups: tuple[str, ...], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:
            # A push that fails must not lose the committed change; clients catch up on reconnect.
            logger.exception("Could not publish %s to %s", message["event"], group)


def publish_conversation(conversation: Conversation, *, event: str, changed: list[str]) -> None:
    """Publish ``conversation.created`` / ``conversation.updated`` with the list-row fields."""
    publish(
        groups=[inbox_group(conversation.inbox_id)],
        event=event,
        data={
            "conversation_id": conversation.pk,
            "inbox_id": conversation.inbox_id,
            "status": conversation.status,
            "assignee_id": conversation.assignee_id,
            "team_id": conversation.team_id,
            "needs_reply": conversation.needs_reply,
            "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
            "changed": sorted(changed),
        },
    )


def publish_message(message: Message, *, event: str = "message.created") -> None:
    conversation = message.conversation
    publish(
        groups=[inbox_group(conversation.inbox_id)],
        event=event,
        data={
            "message_id": message.pk,
            "conversation_id": conversation.pk,
            "inbox_id": conversation.inbox_id,
            "x_event_id": message.x_event_id,
            "event_type": message.event_type,
            "direction": message.direction,
            "delivery_state": message.delivery_state,
            "confirmed_by_x": message.x_confirmed_at is not None,
            "occurred_at": message.occurred_at.isoformat(),
        },
    )
