"""Publishing on the Redis channel layer: what one transaction publishes travels together and in order."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import connection, transaction

from inbox import realtime
from inbox.services.ingest import dm_events_ingest
from tests.factories import BASE_TIME, dm, make_agent, make_inbox, minutes
from tests.helpers import inbox_socket, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_channel_layer")]


def listen(group: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def layer_messages(channel: str, *, events: int) -> list[dict]:
    """Channel-layer messages reaching ``channel`` until they carry ``events`` events."""

    async def collect() -> list[dict]:
        layer = get_channel_layer()
        received: list[dict] = []
        while sum(len(events_of(m)) for m in received) < events:
            received.append(await asyncio.wait_for(layer.receive(channel), 5))
        return received

    return async_to_sync(collect)()


def events_of(message: dict) -> list[dict]:
    return realtime.frame_events(message["text"])


def test_a_transactions_events_reach_a_group_in_few_layer_messages_and_in_order():
    # given a listener in two groups
    inbox, other = make_inbox(), make_inbox()
    channel = listen(realtime.inbox_group(inbox.pk))
    other_channel = listen(realtime.inbox_group(other.pk))

    # when one transaction publishes 60 events to one group and 1 to the other
    with transaction.atomic():
        for n in range(60):
            realtime.publish(groups=[realtime.inbox_group(inbox.pk)], event="note.created", data={"n": n})
        realtime.publish(groups=[realtime.inbox_group(other.pk)], event="note.created", data={"n": "other"})

    # then they arrive in order, several to a message, each group only its own
    messages = layer_messages(channel, events=60)
    assert all(m["type"] == realtime.BATCH_TYPE for m in messages)
    assert [e["data"]["n"] for m in messages for e in events_of(m)] == list(range(60))
    assert len(messages) < 10
    assert [e["data"] for m in layer_messages(other_channel, events=1) for e in events_of(m)] == [{"n": "other"}]


def test_outside_a_transaction_publish_returns_once_the_event_is_in_the_layer():
    inbox = make_inbox()
    channel = listen(realtime.inbox_group(inbox.pk))

    realtime.publish(groups=[realtime.inbox_group(inbox.pk)], event="agent.presence", data={"n": 1})

    assert realtime.flush(timeout=0)  # nothing of it still waits to be handed over
    assert events_of(layer_messages(channel, events=1)[0]) == [{"event": "agent.presence", "data": {"n": 1}}]


def test_nothing_of_a_rolled_back_transaction_is_published():
    inbox = make_inbox()
    channel = listen(realtime.inbox_group(inbox.pk))
    with pytest.raises(RuntimeError), transaction.atomic():
        realtime.publish(groups=[realtime.inbox_group(inbox.pk)], event="note.created", data={"n": "lost"})
        raise RuntimeError("rolled back")
    realtime.publish(groups=[realtime.inbox_group(inbox.pk)], event="note.created", data={"n": "kept"})

    assert [e["data"] for m in layer_messages(channel, events=1) for e in events_of(m)] == [{"n": "kept"}]


def test_flush_waits_until_the_layer_has_every_event():
    inbox = make_inbox()
    channel = listen(realtime.inbox_group(inbox.pk))
    with transaction.atomic():  # handed over without waiting once it commits
        for n in range(200):
            realtime.publish(groups=[realtime.inbox_group(inbox.pk)], event="note.created", data={"n": n})

    assert realtime.flush(timeout=10)

    async def waiting() -> int:
        layer = get_channel_layer()
        count = 0
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), 0.2)
            except TimeoutError:
                return count
            count += len(events_of(message))

    assert async_to_sync(waiting)() == 200


def _ingest_batch(inbox, events) -> None:
    try:
        with transaction.atomic():
            dm_events_ingest(inbox=inbox, events=events)
    finally:
        connection.close()


async def test_an_agent_gets_a_batch_as_one_frame_with_its_events_in_xs_order():
    # given an agent's open websocket
    agent = await sync_to_async(make_agent)()
    inbox = await sync_to_async(make_inbox)(members=(agent,))
    communicator = await inbox_socket(await sync_to_async(session_cookie)(agent))

    # when a batch of 12 DMs from 3 customers is ingested together (as a webhook drain does)
    events = [dm(inbox, str(3_100_000_000 + n % 3), text=f"message {n}", at=BASE_TIME + minutes(n)) for n in range(12)]
    await asyncio.to_thread(_ingest_batch, inbox, events)

    # then the batch's 15 events come in few frames (one per channel-layer message), the messages in X's order
    frames = []
    while sum(len(f) for f in frames) < 15:
        frame = await communicator.receive_json_from(timeout=5)
        frames.append(frame if isinstance(frame, list) else [frame])
    received = [event for frame in frames for event in frame]
    assert len(frames) < 10
    assert [f["event"] for f in received].count("conversation.created") == 3
    created = [f["data"]["x_event_id"] for f in received if f["event"] == "message.created"]
    assert created == [e.x_event_id for e in events]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


def test_a_frame_is_the_event_alone_or_the_list_of_events():
    one = [{"event": "note.created", "data": {"n": 1}}]
    two = one + [{"event": "note.created", "data": {"n": 2}}]

    assert json.loads(realtime.batch_message("inbox.1", one)["text"]) == one[0]
    assert json.loads(realtime.batch_message("inbox.1", two)["text"]) == two
    assert realtime.frame_events(realtime.batch_message("inbox.1", two)["text"]) == two
    assert realtime.batch_message("agent.1", [{"event": "access.changed", "data": {}}])["access_changed"]
    assert not realtime.batch_message("inbox.1", two)["access_changed"]
