"""Presence ends when the agent's socket closes, on a real uvicorn, while events stream to that socket.

A socket closed while an event was being sent to it was never cleaned up (uvicorn raised
``ClientDisconnected`` in the consumer, and ``disconnect()`` never ran): 2 of 12 "view then close at
once" and 1 of 30 tab closes during 40 DMs/s left the agent listed, and online, until the entries
expired. Here the server's entries never expire on their own (tests/inbox/asgi_entries_never_expire.py),
so a ghost stays one, and every try must end with the agent gone: from the other agent's screen, from the
store and from ``users_connected``. Deadlines are generous; nothing is timed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect

from accounts import online
from inbox import realtime
from inbox.services import presence_store
from tests.helpers import session_cookie
from tests.inbox.test_presence import Team, make_team_and_conversation
from tests.live_uvicorn import uvicorn_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_channel_layer")]

TRIES = 24  # bench/presence.py makes 100
EVENTS_PER_SECOND = 40
WAYS = ("close", "abort", "view then close at once")


def test_no_ghost_after_sockets_close_during_a_burst_of_events(tmp_path: Path):
    team = make_team_and_conversation()
    cookies = {"alice": session_cookie(team.alice).decode(), "bob": session_cookie(team.bob).decode()}
    log = tmp_path / "uvicorn.log"

    with uvicorn_server(log, app="tests.inbox.asgi_entries_never_expire:application") as base_url:
        ghosts = asyncio.run(close_during_a_burst(base_url.replace("http", "ws") + "/ws/inbox/", team, cookies))

    assert ghosts == [], f"ghosts: {ghosts}\nserver log:\n{log.read_text(errors='replace')[-3000:]}"
    assert "Exception in ASGI application" not in log.read_text(errors="replace")


async def close_during_a_burst(url: str, team: Team, cookies: dict[str, str]) -> list[str]:
    """Open, announce and close Alice's socket ``TRIES`` times while events go to the inbox at 40/s;
    return the tries after which she was still somewhere."""
    alice_id, conversation_id = team.alice.pk, team.conversation.pk
    seen: dict[str, Any] = {"agents": []}  # what Bob's screen shows for the conversation

    def headers(who: str) -> dict[str, str]:
        return {"Cookie": cookies[who], "Origin": "http://127.0.0.1"}

    def alice_anywhere() -> bool:
        entries = presence_store.redis_store(settings.REDIS_URL).entries(conversation_id)
        return (
            alice_id in seen["agents"]
            or any(entry.user_id == alice_id for entry in entries.values())
            or bool(online.users_connected([alice_id]))
        )

    async with connect(url, additional_headers=headers("bob")) as bob:
        watching = asyncio.create_task(watch(bob, conversation_id, seen))
        publishing = asyncio.create_task(publish_events(team))
        ghosts = []
        try:
            for n in range(TRIES):
                way = WAYS[n % len(WAYS)]
                alice = await connect(url, additional_headers=headers("alice"))
                await alice.send(
                    json.dumps({"action": "presence", "conversation_id": conversation_id, "state": "viewing"})
                )
                if way == "view then close at once":
                    await alice.close()
                    continue  # she may or may not get listed first: the final check finds any ghost
                assert await until(lambda: alice_id in seen["agents"]), "Bob never saw Alice"
                await asyncio.sleep(random.uniform(0, 0.1))  # events keep arriving at her socket
                if way == "abort":
                    alice.transport.abort()  # no closing handshake: a dropped connection
                else:
                    await alice.close()
                if not await until(lambda: not alice_anywhere()):
                    ghosts.append(f"try {n} ({way})")
            # every close has been handled, and nothing comes back afterwards
            if not await until(lambda: not alice_anywhere()) or await becomes_true(alice_anywhere, seconds=3):
                ghosts.append("after all tries")
        finally:
            publishing.cancel()
            watching.cancel()
    return ghosts


async def watch(socket: ClientConnection, conversation_id: int, seen: dict[str, Any]) -> None:
    async for raw in socket:
        frame = json.loads(raw)  # one event, or the list of events published together
        for event in frame if isinstance(frame, list) else [frame]:
            if event["event"] == realtime.PRESENCE_EVENT and event["data"]["conversation_id"] == conversation_id:
                seen["agents"] = [agent["id"] for agent in event["data"]["agents"]]


async def publish_events(team: Team) -> None:
    """``message.created`` events to the conversation's inbox, 40 a second, as a stream of DMs makes."""
    layer, group = get_channel_layer(), realtime.inbox_group(team.conversation.inbox_id)
    n = 0
    while True:
        data = {"conversation_id": team.conversation.pk, "message_id": n}
        await layer.group_send(group, realtime.batch_message(group, [{"event": "message.created", "data": data}]))
        n += 1
        await asyncio.sleep(1 / EVENTS_PER_SECOND)


async def until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def becomes_true(condition: Callable[[], bool], *, seconds: float) -> bool:
    """Whether ``condition`` becomes true at any moment within ``seconds``."""
    return await until(condition, seconds)
