"""Live push: group names and ``publish``. Only services call ``publish``.

An event is a flat dict ``{"event": "<name>", "data": {...ids and small fields...}}`` sent to Channels
groups after the surrounding transaction commits; the events committed together travel in one
channel-layer message per group (``batch_message``), serialised to the websocket frame's text once, here,
and the websockets forward that text as it is: one frame per channel-layer message, the event itself
when it is alone, a JSON array of events in order when several were committed together
(``static/js/inbox/socket.js`` unpacks both; ``inbox/broadcast.py`` explains the fan-out). Clients fetch
anything bigger through views. Group names:

- ``inbox.<id>``: everyone who may see that inbox's conversations;
- ``agent.<id>``: one agent's own notifications.

Events: ``conversation.created``/``conversation.updated``, ``message.created``/``message.updated``,
``message.deleted`` (X's echo of a reply, stored before the send was recorded, folded into the reply;
or a reply undone, ``replaced_by`` None),
``note.created``, ``customer.typing`` and ``customer.seen`` (what the customer does on X, from webhooks).
``agent.presence``: which agents view or reply to a conversation (``services/presence.py``).
``access.changed`` (to ``agent.<id>``): what the agent may see changed; ``handoff.batch.progress`` (to
``agent.<id>``): how far a batch of DM links its agent started has got (``twitter_channel/handoff/batches.py``).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import transaction

from inbox.models import Conversation, Message

logger = logging.getLogger(__name__)


def inbox_group(inbox_id: int) -> str:
    return f"inbox.{inbox_id}"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def publish(*, groups: Iterable[str], event: str, data: dict[str, Any]) -> None:
    """Send ``event`` to ``groups`` once the current transaction commits (at once outside one).

    Inside a transaction it does not wait for the channel layer (``_Publisher``): the events a transaction
    commits go out together. Outside one it waits until the event is handed over. The payload goes through
    JSON here, so one that cannot be serialized fails in the service that built it rather than later inside
    an on-commit callback.
    """
    message = {"event": event, "data": json.loads(json.dumps(data))}
    targets = tuple(dict.fromkeys(groups))
    transaction.on_commit(lambda: _group_send(targets, message), robust=True)
    if not transaction.get_connection().in_atomic_block:
        # Sent at once (no transaction to wait for): wait until it is in the layer, as a presence change from
        # a websocket must be before that socket goes on (or closes: channels-redis could lose an event that
        # arrives while a consumer of the same process is being torn down).
        flush()


def _group_send(groups: tuple[str, ...], message: dict[str, Any]) -> None:
    """Hand one committed event to the channel layer (tests replace this to record what is published)."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, RedisChannelLayer):
        _publisher.submit(layer, groups, message)
        return
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, batch_message(group, [message]))
    except Exception:
        # A push that fails must not lose the committed change; clients catch up on reconnect.
        logger.exception("Could not publish %s to %s", message["event"], ", ".join(groups))


def batch_message(group: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The channel-layer message that carries ``messages`` (events as ``publish`` builds them) to ``group``.

    ``text`` is the websocket frame, serialised once for every socket of the group: the event alone, or
    a JSON array of the events in order. ``group`` tells a process's broadcaster whose sockets get it
    (a group message does not say which group it came through); ``access_changed`` spares it decoding
    the text to find ``access.changed``.
    """
    events = [{"event": m["event"], "data": m["data"]} for m in messages]
    return {
        "type": BATCH_TYPE,
        "group": group,
        "text": frame_text(events),
        "access_changed": any(e["event"] == ACCESS_CHANGED_EVENT for e in events),
    }


def frame_text(events: list[dict[str, Any]]) -> str:
    """The text of the websocket frame carrying ``events``: the event itself if alone, else their list."""
    return json.dumps(events[0] if len(events) == 1 else events, separators=(",", ":"))


def frame_events(text: str) -> list[dict[str, Any]]:
    """The events of a frame's ``text`` in order (the inverse of ``frame_text``): for tests and tools."""
    value = json.loads(text)
    return value if isinstance(value, list) else [value]


BATCH_TYPE = "inbox.events"
PUBLISH_TIMEOUT = 5.0
# Events waiting for the channel layer, at most: beyond this (Redis down for a long time) the oldest are
# dropped, and pages catch up when their socket reconnects.
MAX_PENDING = 20_000


class _Publisher:
    """One event loop per process, on a daemon thread, through which sync code publishes without waiting.

    Events handed over together go out together: one channel-layer message per group holding every event
    for it, in the order they were published. A webhook drain commits a batch of a hundred DMs and
    publishes two events for each; one ``group_send`` per event cost more than the ingest itself (four
    Redis round trips each, measured with bench/ingest.py). Order is kept within a group, not across
    groups. Each group's message is serialised to its frame's text here, once, however many sockets
    receive it.

    ``async_to_sync`` would start a new event loop for each call, and channels-redis keeps its Redis
    connections per event loop, so each publish would open fresh connections. The loop is made lazily,
    and again after a fork (Celery's prefork workers).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._pending: list[tuple[RedisChannelLayer, tuple[str, ...], dict[str, Any]]] = []
        self._sending = False
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, layer: RedisChannelLayer, groups: tuple[str, ...], message: dict[str, Any]) -> None:
        with self._lock:
            loop = self._loop
            if loop is None or self._pid != os.getpid():
                loop = self._start_loop()
            self._pending.append((layer, groups, message))
            if len(self._pending) > MAX_PENDING:
                del self._pending[: len(self._pending) - MAX_PENDING]
                logger.warning("More than %d events wait for the channel layer; dropped the oldest.", MAX_PENDING)
            if not self._sending:
                self._sending = True
                self._idle.clear()
                loop.call_soon_threadsafe(loop.create_task, self._send_pending())

    def flush(self, timeout: float = PUBLISH_TIMEOUT) -> bool:
        """Wait until everything submitted so far has been handed to the channel layer; False on timeout."""
        return self._idle.wait(timeout)

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="realtime-publisher", daemon=True).start()
        self._loop, self._pid = loop, os.getpid()
        self._pending, self._sending = [], False
        self._idle.set()
        return loop

    async def _send_pending(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._sending = False
                    self._idle.set()
                    return
            by_group: dict[tuple[RedisChannelLayer, str], list[dict[str, Any]]] = {}
            for layer, groups, message in batch:
                for group in groups:
                    by_group.setdefault((layer, group), []).append(message)
            for (layer, group), messages in by_group.items():
                try:
                    await asyncio.wait_for(layer.group_send(group, batch_message(group, messages)), PUBLISH_TIMEOUT)
                except Exception:
                    # A push that fails must not lose the committed change; clients catch up on reconnect.
                    names = sorted({m["event"] for m in messages})
                    logger.exception("Could not publish %d event(s) (%s) to %s", len(messages), ", ".join(names), group)


_publisher = _Publisher()
atexit.register(_publisher.flush)


def flush(timeout: float = PUBLISH_TIMEOUT) -> bool:
    """Wait until every event published so far in this process reached the channel layer (False on timeout).

    What a transaction publishes goes out after commit without waiting; a process that must know it went
    (a management command, a benchmark) calls this. It is called on its own at exit.
    """
    return _publisher.flush(timeout)


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


def publish_customer_typing(conversation: Conversation, *, x_user_id: str, at: datetime) -> None:
    """``customer.typing``: the customer is typing in ``conversation`` (X shows it for about 3 seconds)."""
    publish(
        groups=[inbox_group(conversation.inbox_id)],
        event="customer.typing",
        data={
            "conversation_id": conversation.pk,
            "inbox_id": conversation.inbox_id,
            "x_user_id": x_user_id,
            "contact_id": conversation.contact_id,
            "at": at.isoformat(),
        },
    )


def publish_customer_seen(conversation: Conversation, *, message_id: int | None) -> None:
    """``customer.seen``: the customer read ``conversation`` up to its ``customer_read_event_id``.

    ``message_id`` is our row for that X event, None when we do not have it (yet).
    """
    publish(
        groups=[inbox_group(conversation.inbox_id)],
        event="customer.seen",
        data={
            "conversation_id": conversation.pk,
            "inbox_id": conversation.inbox_id,
            "last_read_event_id": conversation.customer_read_event_id,
            "message_id": message_id,
            "read_at": conversation.customer_read_at.isoformat() if conversation.customer_read_at else None,
        },
    )


PRESENCE_EVENT = "agent.presence"


def presence_data(*, conversation_id: int, inbox_id: int, agents: list[dict[str, Any]]) -> dict[str, Any]:
    """The data of ``agent.presence``: ``agents`` is the whole list, ``{"id", "name", "state"}`` each, by name."""
    return {"conversation_id": conversation_id, "inbox_id": inbox_id, "agents": agents}


def publish_presence(*, conversation_id: int, inbox_id: int, agents: list[dict[str, Any]]) -> None:
    """``agent.presence``: who is viewing or replying to ``conversation_id`` now, sent whenever that changes.

    Presence is not a database change, so this goes out at once and waits until it is in the channel layer,
    without touching the database: the presence sweep and a closing socket's cleanup publish from threads
    that hold no database connection (``transaction.on_commit`` would open one in each).
    """
    data = presence_data(conversation_id=conversation_id, inbox_id=inbox_id, agents=agents)
    _group_send((inbox_group(inbox_id),), {"event": PRESENCE_EVENT, "data": json.loads(json.dumps(data))})
    flush()


ACCESS_CHANGED_EVENT = "access.changed"


def publish_access_changed(*, user_ids: Iterable[int]) -> None:
    """Tell these agents' open websockets that what they may see changed (deactivated, a role, a team or
    an inbox membership): each socket closes so the page reconnects, joins the groups it now may, and
    fetches its list again (or, for a deactivated agent, goes to the login page)."""
    ids = sorted(set(user_ids))
    if ids:
        publish(groups=[agent_group(pk) for pk in ids], event=ACCESS_CHANGED_EVENT, data={})


HANDOFF_BATCH_PROGRESS_EVENT = "handoff.batch.progress"


def publish_handoff_batch_progress(
    *, batch_id: int, created_by_id: int | None, processed: int, total: int, status: str
) -> None:
    """``handoff.batch.progress`` to the agent who started a batch of "Send a private message" links (none
    for a batch nobody started): ``processed`` of ``total`` rows done and the batch's ``status``, which the
    batch's page shows as its progress bar. Sent once the transaction that stored those rows commits."""
    if created_by_id is None:
        return
    publish(
        groups=[agent_group(created_by_id)],
        event=HANDOFF_BATCH_PROGRESS_EVENT,
        data={"batch_id": batch_id, "processed": processed, "total": total, "status": status},
    )


AGENT_STATUS_EVENT = "agent.status"


def status_group(user_id: int) -> str:
    """The pages of one agent that show their presence (sockets opened with ``?status=1``)."""
    return f"status.{user_id}"


def agent_status_data(*, user_id: int, presence: str, label: str, choice: str) -> dict[str, Any]:
    """The data of ``agent.status``: an agent's presence (``online``, ``away``, ``offline``), its label and
    what the agent chose (``auto``, ``away``, ``offline``)."""
    return {"user_id": user_id, "presence": presence, "label": label, "choice": choice}


def publish_agent_status(*, user_id: int, presence: str, label: str, choice: str) -> None:
    """``agent.status`` to the agent's own pages that asked for it (the inbox page's top bar), once the
    transaction that stored it commits. The leads' Reports and Manage pages read everyone's
    (``views/agent_status.py``)."""
    publish(
        groups=[status_group(user_id)],
        event=AGENT_STATUS_EVENT,
        data=agent_status_data(user_id=user_id, presence=presence, label=label, choice=choice),
    )
