"""The per-process broadcaster (inbox/broadcast.py) on the Redis channel layer, in one process.

Many sockets share one channel of the layer per process: each still gets every event of its groups, in
order; the process is one member of each group however many sockets it has; a socket that does not read
is dropped without holding the others; an access change and an outage of Redis close sockets as before,
and sockets work again once Redis is back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator

from inbox import broadcast, realtime
from inbox.consumers import CLOSE_RECONNECT, CLOSE_TRY_AGAIN_LATER
from inbox.services import staffing
from tests.factories import make_agent, make_inbox
from tests.helpers import REDIS_URL, inbox_socket, receive_event, session_cookie
from tests.redis_server import OwnRedis

pytestmark = pytest.mark.django_db(transaction=True)

SOCKETS = 40
EVENTS = 25


def publish_numbered(group: str, numbers: range, *, together: int = 1) -> None:
    """``note.created`` events numbered ``numbers`` to ``group``, ``together`` per channel-layer message."""
    for start in range(numbers.start, numbers.stop, together):
        events = [
            {"event": "note.created", "data": {"n": n}} for n in range(start, min(start + together, numbers.stop))
        ]
        asyncio.run(_group_send(group, events))


async def _group_send(group: str, events: list[dict[str, Any]]) -> None:
    # A fresh layer of the same settings: this runs on its own loop, like a Celery worker would.
    from channels.layers import channel_layers as layers

    layer = layers.make_backend("default")
    await layer.group_send(group, realtime.batch_message(group, events))


async def numbers_received(communicator: WebsocketCommunicator, count: int) -> list[int]:
    received = []
    while len(received) < count:
        event = await receive_event(communicator, timeout=30)
        assert event["event"] == "note.created", event
        received.append(event["data"]["n"])
    return received


def group_members(group: str) -> int:
    """How many channels the Redis channel layer has in ``group`` (channels-redis keeps a sorted set)."""
    return redis.Redis.from_url(REDIS_URL).zcard(f"backchannel:group:{group}")


@pytest.fixture
async def agents_of_one_inbox(redis_channel_layer) -> tuple[Any, list[bytes]]:
    agents = [await sync_to_async(make_agent)() for _ in range(4)]
    inbox = await sync_to_async(make_inbox)(members=tuple(agents))
    return inbox, [await sync_to_async(session_cookie)(agent) for agent in agents]


async def test_many_sockets_of_one_process_each_get_every_event_once_and_in_order(agents_of_one_inbox):
    # given 40 sockets of 4 agents in one process, all in one inbox
    inbox, cookies = agents_of_one_inbox
    sockets = [await inbox_socket(cookies[n % len(cookies)]) for n in range(SOCKETS)]
    group = realtime.inbox_group(inbox.pk)

    # when events are published to the inbox, alone and several to a message
    await asyncio.to_thread(publish_numbered, group, range(0, 10))
    await asyncio.to_thread(publish_numbered, group, range(10, EVENTS), together=5)

    # then every socket gets each of them once, in order, and the process is one member of the group
    for socket in sockets:
        assert await numbers_received(socket, EVENTS) == list(range(EVENTS))
        assert await socket.receive_nothing(timeout=0.05)
    assert group_members(group) == 1
    for socket in sockets:
        await socket.disconnect()
    assert group_members(group) == 0  # the last socket out left the group


async def test_a_mailbox_that_is_not_read_is_dropped_and_the_sockets_beside_it_get_everything(agents_of_one_inbox):
    # given a socket, and beside it in the same process a subscriber of the same group that never reads
    inbox, cookies = agents_of_one_inbox
    socket = await inbox_socket(cookies[0])
    group = realtime.inbox_group(inbox.pk)
    stuck = broadcast.Mailbox(backlog=5)
    await broadcast.broadcaster(get_channel_layer()).subscribe(stuck, [group], timeout=5)

    # when 30 events are published
    await asyncio.to_thread(publish_numbered, group, range(30))

    # then the socket gets them all, and the stuck one holds only the order to close
    assert await numbers_received(socket, 30) == list(range(30))
    assert await asyncio.wait_for(stuck.get(), 5) == broadcast.OVERFLOW
    assert stuck._queue.empty()
    broadcast.broadcaster(get_channel_layer()).unsubscribe(stuck)
    await socket.disconnect()


async def test_a_socket_that_overflows_is_closed_with_1013(agents_of_one_inbox, monkeypatch):
    inbox, cookies = agents_of_one_inbox
    monkeypatch.setattr(broadcast, "SOCKET_BACKLOG", 0)  # any message overflows a socket opened now
    socket = await inbox_socket(cookies[0])

    await asyncio.to_thread(publish_numbered, realtime.inbox_group(inbox.pk), range(1))

    assert await socket.receive_output(timeout=30) == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}
    await socket.disconnect()


async def test_an_access_change_closes_that_agents_socket_and_the_others_of_the_group_go_on(redis_channel_layer):
    # given two agents' sockets on one inbox, the admin about to remove one of them from it
    admin = await sync_to_async(make_agent)(role="admin")
    leaving, staying = await sync_to_async(make_agent)(), await sync_to_async(make_agent)()
    inbox = await sync_to_async(make_inbox)(members=(leaving, staying))
    sockets = {user.pk: await inbox_socket(await sync_to_async(session_cookie)(user)) for user in (leaving, staying)}
    group = realtime.inbox_group(inbox.pk)

    # when the leaving agent is removed from the inbox
    await sync_to_async(staffing.inbox_members_set)(inbox=inbox, actor=admin, user_ids=[staying.pk])

    # then their socket closes with 4000; reopened, it no longer gets the inbox's events; the other does
    assert (await sockets[leaving.pk].receive_output(timeout=30))["code"] == CLOSE_RECONNECT
    await sockets[leaving.pk].disconnect()
    reopened = await inbox_socket(await sync_to_async(session_cookie)(leaving))
    await asyncio.to_thread(publish_numbered, group, range(3))
    assert await numbers_received(sockets[staying.pk], 3) == [0, 1, 2]
    assert await reopened.receive_nothing(timeout=0.5)
    await reopened.disconnect()
    await sockets[staying.pk].disconnect()


@pytest.fixture
def redis_of_its_own(settings, own_redis: OwnRedis) -> OwnRedis:
    """The channel layer (and the rest of Redis) on the test's own redis-server; the layer's socket
    timeout short, so a frozen Redis is noticed within seconds rather than 30."""
    settings.REDIS_URL = own_redis.url
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": own_redis.url, "socket_timeout": 8}], "prefix": "backchannel"},
        }
    }
    channel_layers.backends.clear()
    yield own_redis
    channel_layers.backends.clear()


async def closed_with(communicator: WebsocketCommunicator) -> int:
    while True:
        output = await communicator.receive_output(timeout=60)
        if output["type"] == "websocket.close":
            return output["code"]


@pytest.mark.parametrize("outage", ["stop", "freeze"])
async def test_sockets_close_with_1013_when_redis_goes_and_work_again_once_it_is_back(redis_of_its_own, outage):
    # given three sockets sharing the process's broadcaster
    agent = await sync_to_async(make_agent)()
    inbox = await sync_to_async(make_inbox)(members=(agent,))
    cookie = await sync_to_async(session_cookie)(agent)
    sockets = [await inbox_socket(cookie) for _ in range(3)]
    group = realtime.inbox_group(inbox.pk)

    # when Redis stops (or stops answering)
    getattr(redis_of_its_own, outage)()
    try:
        # then every socket is closed with 1013
        assert [await closed_with(socket) for socket in sockets] == [CLOSE_TRY_AGAIN_LATER] * 3
    finally:
        redis_of_its_own.start() if outage == "stop" else redis_of_its_own.thaw()
    for socket in sockets:
        await socket.disconnect()

    # and once it is back, new sockets join the group afresh and get its events
    sockets = [await inbox_socket(cookie) for _ in range(2)]
    await asyncio.to_thread(publish_numbered, group, range(4))
    for socket in sockets:
        assert await numbers_received(socket, 4) == [0, 1, 2, 3]
        await socket.disconnect()


async def test_the_process_stays_in_its_groups_past_the_layers_group_expiry(settings, agents_of_one_inbox):
    """channels-redis drops a member not added again within ``group_expiry``; the broadcaster adds its
    groups again every half of it. Here the expiry is 2 s, and the socket is still reached after 6."""
    inbox, cookies = agents_of_one_inbox
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["group_expiry"] = 2
    channel_layers.backends.clear()
    socket = await inbox_socket(cookies[0])

    await asyncio.sleep(6)  # three expiries
    await asyncio.to_thread(publish_numbered, realtime.inbox_group(inbox.pk), range(2))

    assert await numbers_received(socket, 2) == [0, 1]
    await socket.disconnect()
