"""A closing websocket leaves nothing behind, however it closes: its presence is gone from the other agents'
screens and the agent no longer counts as online (auto-assignment), on the Redis channel layer.

Each test opens Alice's socket through the whole ASGI application, has her view a conversation that Bob
watches, ends her socket one way, and waits (with a generous deadline, never a timing assertion) for
Bob to be told she left. Entries live ``PRESENCE_TTL`` seconds unless re-stamped, and the tests make it
an hour: only the socket's own cleanup can remove them here.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from uvicorn.protocols.utils import ClientDisconnected

from accounts import online
from config.asgi import application
from inbox import realtime
from inbox.consumers import CLOSE_INTERNAL_ERROR
from inbox.services import presence, presence_store
from tests.helpers import inbox_socket, next_event, receive_event, session_cookie
from tests.inbox.test_presence import Team, listed, make_team_and_conversation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_channel_layer")]


@pytest.fixture(autouse=True)
def entries_that_never_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presence, "PRESENCE_TTL", 3600.0)


@pytest.fixture
async def team() -> Team:
    return await sync_to_async(make_team_and_conversation)()


class ClientThatGoes:
    """The server side of a socket whose client goes away: once ``go()`` is called every send raises
    uvicorn's ``ClientDisconnected``, as uvicorn does when a client closed while an event was on its way."""

    def __init__(self) -> None:
        self.gone = False

    def go(self) -> None:
        self.gone = True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_unless_gone(message: dict[str, Any]) -> None:
            if self.gone:
                raise ClientDisconnected
            await send(message)

        await application(scope, receive, send_unless_gone)


async def alice_viewing(team: Team, bob: WebsocketCommunicator, app: Any = application) -> WebsocketCommunicator:
    """Alice's socket (through ``app``), viewing the conversation; Bob has been told."""
    cookie = await sync_to_async(session_cookie)(team.alice)
    alice = WebsocketCommunicator(app, "/ws/inbox/", headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)])
    connected, code = await alice.connect(timeout=5)
    assert connected, code
    await alice.send_json_to({"action": "presence", "conversation_id": team.conversation.pk, "state": "viewing"})
    assert await next_event(bob, "agent.presence") == listed(team, (team.alice, "viewing"))
    assert online.users_connected([team.alice.pk]) == {team.alice.pk}
    return alice


async def assert_alice_is_gone(team: Team, bob: WebsocketCommunicator) -> None:
    assert await next_event(bob, "agent.presence", seconds=30) == listed(team)
    assert stored(team) == {}
    deadline = time.monotonic() + 30
    while online.users_connected([team.alice.pk]):
        assert time.monotonic() < deadline, "Alice still counts as online"
        await asyncio.sleep(0.05)


async def test_a_client_gone_while_an_event_is_sent_to_it_is_cleaned_up(team):
    bob = await inbox_socket(await sync_to_async(session_cookie)(team.bob))
    client = ClientThatGoes()
    alice = await alice_viewing(team, bob, app=client)

    # when her tab closes while a DM's event is on its way to it
    client.go()
    await get_channel_layer().group_send(
        realtime.inbox_group(team.conversation.inbox_id),
        realtime.batch_message(
            realtime.inbox_group(team.conversation.inbox_id),
            [{"event": "message.created", "data": {"conversation_id": team.conversation.pk}}],
        ),
    )

    # then her consumer ends without an error, and Bob is told she left
    await alice.wait(timeout=30)
    await assert_alice_is_gone(team, bob)
    await bob.disconnect()


async def test_an_error_in_a_handler_closes_the_socket_with_1011_and_cleans_up(team):
    bob = await inbox_socket(await sync_to_async(session_cookie)(team.bob))
    alice = await alice_viewing(team, bob)

    # when a message her consumer has no handler for reaches it
    group = realtime.agent_group(team.alice.pk)
    await get_channel_layer().group_send(group, {"type": "inbox.no_such_handler", "group": group})

    assert await closing(alice) == {"type": "websocket.close", "code": CLOSE_INTERNAL_ERROR}
    await assert_alice_is_gone(team, bob)
    await alice.disconnect()
    await bob.disconnect()


async def test_a_socket_task_cancelled_by_the_server_is_cleaned_up(team):
    bob = await inbox_socket(await sync_to_async(session_cookie)(team.bob))
    alice = await alice_viewing(team, bob)

    # when the server cancels her socket's task (a shutdown)
    alice.future.cancel()

    await assert_alice_is_gone(team, bob)
    await bob.disconnect()


async def test_a_socket_closed_right_after_announcing_leaves_no_entry(team):
    """The announcement may still be applied when the socket closes: the close waits for it, or the
    connection's tombstone refuses it, so it never writes the entry back after the cleanup."""
    bob = await inbox_socket(await sync_to_async(session_cookie)(team.bob))

    for _ in range(10):
        alice = await inbox_socket(await sync_to_async(session_cookie)(team.alice))
        await alice.send_json_to({"action": "presence", "conversation_id": team.conversation.pk, "state": "viewing"})
        await alice.disconnect()

    deadline = time.monotonic() + 30
    while stored(team) or online.users_connected([team.alice.pk]):
        assert time.monotonic() < deadline, (
            f"left behind: {stored(team)}, online: {online.users_connected([team.alice.pk])}"
        )
        await asyncio.sleep(0.05)
    # and the last list Bob was told, if any announcement got through, has nobody
    told = []
    while await bob.receive_nothing(timeout=2) is False:
        told.append((await receive_event(bob))["data"]["agents"])
    assert told == [] or told[-1] == []
    await bob.disconnect()


async def closing(communicator: WebsocketCommunicator) -> dict[str, Any]:
    """The close the server sent (frames before it skipped)."""
    while True:
        output = await communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            return output


def stored(team: Team) -> dict[str, Any]:
    return presence_store.redis_store(settings.REDIS_URL).entries(team.conversation.pk)
