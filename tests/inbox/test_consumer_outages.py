"""The inbox websocket while Redis (channel layer, presence, open-socket count) is stopped or frozen.

New sockets got HTTP 500 while Redis was down (the consumer raised before accepting), and a frozen Redis
could hang ``group_add``. Now a socket is accepted and closed with 1013 ("try again later"), so the page
reconnects with backoff; a socket open when Redis goes is closed the same way. Redis here is a
redis-server of the test's own (tests/redis_server.py), never the suite's.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from config.asgi import application
from inbox.consumers import CLOSE_TRY_AGAIN_LATER
from tests.factories import make_agent, make_inbox
from tests.helpers import session_cookie
from tests.redis_server import OwnRedis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_of_its_own(settings, own_redis: OwnRedis) -> OwnRedis:
    """Everything that uses Redis in a web process pointed at the test's own redis-server."""
    settings.REDIS_URL = own_redis.url
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": own_redis.url, "socket_timeout": settings.CHANNEL_LAYER_SOCKET_TIMEOUT}]},
        }
    }
    channel_layers.backends.clear()
    yield own_redis
    channel_layers.backends.clear()


@pytest.fixture
async def cookie() -> bytes:
    agent = await sync_to_async(make_agent)()
    await sync_to_async(make_inbox)(members=(agent,))
    return await sync_to_async(session_cookie)(agent)


async def open_socket(cookie: bytes) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(
        application, "/ws/inbox/", headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect(timeout=30)  # a hang fails the test after 30 s, never stalls it
    return communicator, connected


async def closing(communicator: WebsocketCommunicator) -> dict[str, Any]:
    while True:
        output = await communicator.receive_output(timeout=30)
        if output["type"] == "websocket.close":
            return output


async def refused_cleanly(communicator: WebsocketCommunicator, connected: bool) -> None:
    """Accepted, then closed with 1013, and the consumer ends without an error once the client goes."""
    assert connected, "not accepted: the browser would see 1006 (or HTTP 500), not 1013"
    assert await closing(communicator) == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}
    await communicator.send_input({"type": "websocket.disconnect", "code": CLOSE_TRY_AGAIN_LATER})
    await communicator.wait(timeout=30)  # raises what the consumer raised, if anything


async def works(communicator: WebsocketCommunicator) -> None:
    await communicator.send_json_to({"action": "ping"})
    assert await communicator.receive_json_from(timeout=30) == {"event": "pong"}


async def test_a_new_socket_while_redis_is_stopped_is_closed_with_1013_then_works_once_it_is_back(
    redis_of_its_own, cookie
):
    redis_of_its_own.stop()

    await refused_cleanly(*await open_socket(cookie))

    redis_of_its_own.start()
    communicator, connected = await open_socket(cookie)
    assert connected
    await works(communicator)
    await communicator.disconnect()


async def test_a_new_socket_while_redis_is_frozen_is_closed_with_1013_instead_of_hanging(redis_of_its_own, cookie):
    redis_of_its_own.freeze()
    try:
        await refused_cleanly(*await open_socket(cookie))
    finally:
        redis_of_its_own.thaw()


async def test_an_open_socket_is_closed_with_1013_when_redis_stops(redis_of_its_own, cookie):
    communicator, connected = await open_socket(cookie)
    assert connected
    await works(communicator)

    redis_of_its_own.stop()

    await refused_cleanly(communicator, connected)
