"""Agent presence ("who else is viewing or replying") over the inbox websocket, on Redis and without it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from accounts import online
from accounts.models import User
from inbox.models import Conversation
from inbox.services import presence, presence_store
from tests.helpers import inbox_socket, receive_event, session_cookie
from tests.inbox.presence_world import REDIS_URL, Team, local_mode, make_team_and_conversation, redis_mode

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["local_mode", "redis_mode"]  # fixtures

ORIGIN = (b"origin", b"http://localhost")
NOT_VISIBLE = "Conversation {} does not exist or is not in one of your inboxes."


@pytest.fixture
async def team() -> Team:
    return await sync_to_async(make_team_and_conversation)()


async def connect(user: User) -> WebsocketCommunicator:
    return await inbox_socket(await sync_to_async(session_cookie)(user))


async def announce(communicator: WebsocketCommunicator, conversation: Conversation, state: str) -> None:
    await communicator.send_json_to({"action": "presence", "conversation_id": conversation.pk, "state": state})


async def presence_event(communicator: WebsocketCommunicator, timeout: float = 5) -> dict[str, Any]:
    received = await receive_event(communicator, timeout=timeout)
    assert received["event"] == "agent.presence", received
    return received["data"]


def listed(team: Team, *agents: tuple[User, str]) -> dict[str, Any]:
    return {
        "conversation_id": team.conversation.pk,
        "inbox_id": team.conversation.inbox_id,
        "agents": [{"id": user.pk, "name": user.name, "state": state} for user, state in agents],
    }


def presence_key(conversation: Conversation) -> str:
    return f"{presence_store.KEY_PREFIX}:conversation:{conversation.pk}"


# On Redis, through the whole ASGI application ------------------------------------------------------------


async def test_the_other_agents_of_the_inbox_see_who_views_replies_and_leaves(redis_mode, team):
    # given Alice and Bob connected
    alice, bob = await connect(team.alice), await connect(team.bob)

    # when Alice opens the conversation, then Bob (and Alice's own socket) get the list
    await announce(alice, team.conversation, "viewing")
    assert await presence_event(bob) == listed(team, (team.alice, "viewing"))
    assert await presence_event(alice) == listed(team, (team.alice, "viewing"))

    # when she types
    await announce(alice, team.conversation, "replying")
    assert await presence_event(bob) == listed(team, (team.alice, "replying"))

    # when she navigates away
    await announce(alice, team.conversation, "left")
    assert await presence_event(bob) == listed(team)
    assert redis_mode.hlen(presence_key(team.conversation)) == 0

    await alice.disconnect()
    assert await bob.receive_nothing(timeout=0.5)  # she had left already: nothing more to tell
    await bob.disconnect()


async def test_closing_the_socket_removes_the_agent(redis_mode, team):
    alice, bob = await connect(team.alice), await connect(team.bob)
    await announce(alice, team.conversation, "replying")
    assert await presence_event(bob) == listed(team, (team.alice, "replying"))

    await alice.disconnect()

    assert await presence_event(bob) == listed(team)
    assert redis_mode.hlen(presence_key(team.conversation)) == 0
    await bob.disconnect()


async def test_the_list_is_sorted_by_name(redis_mode, team):
    alice, bob = await connect(team.alice), await connect(team.bob)

    await announce(bob, team.conversation, "replying")
    assert await presence_event(alice) == listed(team, (team.bob, "replying"))
    await announce(alice, team.conversation, "viewing")

    assert await presence_event(alice) == listed(team, (team.alice, "viewing"), (team.bob, "replying"))
    await alice.disconnect()
    await bob.disconnect()


async def test_a_second_tab_keeps_the_agent_present(redis_mode, team):
    # given Alice viewing in one tab, Bob watching
    first_tab, bob = await connect(team.alice), await connect(team.bob)
    await announce(first_tab, team.conversation, "viewing")
    assert await presence_event(bob) == listed(team, (team.alice, "viewing"))

    # when she opens it in a second tab: still one Alice, viewing, so nothing to tell
    second_tab = await connect(team.alice)
    await announce(second_tab, team.conversation, "viewing")
    assert await bob.receive_nothing(timeout=0.5)
    assert redis_mode.hlen(presence_key(team.conversation)) == 2  # one field per connection

    # when she types in the second tab, she is replying
    await announce(second_tab, team.conversation, "replying")
    assert await presence_event(bob) == listed(team, (team.alice, "replying"))

    # when the second tab closes, the first still views
    await second_tab.disconnect()
    assert await presence_event(bob) == listed(team, (team.alice, "viewing"))

    # when the first closes too, she is gone
    await first_tab.disconnect()
    assert await presence_event(bob) == listed(team)
    await bob.disconnect()


async def test_an_agent_of_another_inbox_is_neither_told_nor_allowed_to_announce(redis_mode, team):
    alice, bob, outsider = await connect(team.alice), await connect(team.bob), await connect(team.outsider)

    # not told
    await announce(alice, team.conversation, "viewing")
    assert await presence_event(bob) == listed(team, (team.alice, "viewing"))
    assert await outsider.receive_nothing(timeout=0.5)

    # not allowed, and told exactly what a missing conversation would tell
    for state in ("viewing", "replying", "left"):
        await announce(outsider, team.conversation, state)
        assert await outsider.receive_json_from(timeout=30) == {
            "event": "error",
            "detail": NOT_VISIBLE.format(team.conversation.pk),
        }
    await outsider.send_json_to({"action": "presence_query", "conversation_id": team.conversation.pk})
    assert (await outsider.receive_json_from(timeout=30))["detail"] == NOT_VISIBLE.format(team.conversation.pk)
    await outsider.send_json_to({"action": "presence", "conversation_id": 987654321, "state": "viewing"})
    assert (await outsider.receive_json_from(timeout=30))["detail"] == NOT_VISIBLE.format(987654321)

    # nothing was published or stored
    assert await bob.receive_nothing(timeout=0.5)
    assert redis_mode.hlen(presence_key(team.conversation)) == 1
    for communicator in (alice, bob, outsider):
        await communicator.disconnect()


async def test_a_heartbeat_that_changes_nothing_publishes_nothing(redis_mode, team):
    alice, bob = await connect(team.alice), await connect(team.bob)
    await announce(alice, team.conversation, "viewing")
    assert await presence_event(bob) == listed(team, (team.alice, "viewing"))

    await announce(alice, team.conversation, "viewing")
    assert await bob.receive_nothing(timeout=0.5)

    await announce(alice, team.conversation, "replying")
    assert await presence_event(bob) == listed(team, (team.alice, "replying"))
    await announce(alice, team.conversation, "replying")
    assert await bob.receive_nothing(timeout=0.5)
    await alice.disconnect()
    await bob.disconnect()


async def test_presence_query_answers_the_asking_socket_only(redis_mode, team):
    alice, bob = await connect(team.alice), await connect(team.bob)
    await announce(alice, team.conversation, "replying")
    await presence_event(alice)
    await presence_event(bob)

    await bob.send_json_to({"action": "presence_query", "conversation_id": team.conversation.pk})

    assert await presence_event(bob) == listed(team, (team.alice, "replying"))
    assert await alice.receive_nothing(timeout=0.5)
    await alice.disconnect()
    await bob.disconnect()


def announce_from_another_process_then_kill_it(team: Team) -> None:
    """A second Backchannel process (another host, say) opens a socket of Alice's and announces her,
    then is killed (SIGKILL: no cleanup, no goodbye)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    code = textwrap.dedent(
        f"""
        import os, signal
        import django
        django.setup()
        from accounts import online
        from accounts.models import User
        from inbox.services import presence
        online.agent_socket_opened(user_id={team.alice.pk}, connection="specific.other-host!gone")
        presence.presence_set(
            user=User.objects.get(pk={team.alice.pk}),
            connection="specific.other-host!gone",
            conversation_id={team.conversation.pk},
            state="replying",
        )
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode(errors="replace")


async def test_a_dead_processs_presence_expires_within_seconds_while_open_sockets_stay_without_heartbeats(
    redis_mode, team
):
    """Entries are kept alive by the process holding their socket (re-stamped every few seconds), not by
    the page's 20 s heartbeat: when that process dies, its entries expire within ``PRESENCE_TTL`` and the
    sweep of a live process tells the agents."""
    if connection.vendor != "postgresql":
        pytest.fail("A second process cannot share the in-memory SQLite test database; run with DATABASE_URL set.")
    bob, carol = await connect(team.bob), await connect(team.carol)

    # given Carol viewing from this process, announced once and never again
    await announce(carol, team.conversation, "viewing")
    assert await presence_event(bob) == listed(team, (team.carol, "viewing"))

    # when another process (another host, say) announces Alice, then is killed
    await asyncio.to_thread(announce_from_another_process_then_kill_it, team)

    # then Bob, here, is told through Redis, and reads the same list
    assert await presence_event(bob) == listed(team, (team.alice, "replying"), (team.carol, "viewing"))
    await bob.send_json_to({"action": "presence_query", "conversation_id": team.conversation.pk})
    assert await presence_event(bob) == listed(team, (team.alice, "replying"), (team.carol, "viewing"))

    # and once her entry expires, this process's sweep removes it and tells Bob; Carol, whose socket is
    # open here, stays, though her only announcement is older than the TTL by then
    assert await presence_event(bob, timeout=presence.PRESENCE_TTL * 5) == listed(team, (team.carol, "viewing"))
    assert redis_mode.hkeys(presence_key(team.conversation)) == [carol_connection(redis_mode, team)]
    assert await bob.receive_nothing(timeout=presence.RESTAMP_INTERVAL * 2)
    # and auto-assignment no longer counts the dead process's socket; Carol's, open here, still counts
    deadline = time.monotonic() + 30
    while online.users_connected([team.alice.pk, team.carol.pk]) != {team.carol.pk}:
        assert time.monotonic() < deadline, online.users_connected([team.alice.pk, team.carol.pk])
        await asyncio.sleep(0.1)
    await bob.disconnect()
    await carol.disconnect()


def carol_connection(client: redis.Redis, team: Team) -> str:
    fields = client.hgetall(presence_key(team.conversation))
    return next(field for field, value in fields.items() if f'"user_id": {team.carol.pk}' in value)


async def test_expired_entries_are_ignored_when_read_before_any_sweep(redis_mode, team, monkeypatch):
    monkeypatch.setattr(presence, "RESTAMP_INTERVAL", 3600.0)
    monkeypatch.setattr(presence, "SWEEP_INTERVAL", 3600.0)
    alice, bob = await connect(team.alice), await connect(team.bob)
    await announce(alice, team.conversation, "viewing")  # and no heartbeat after it
    assert await presence_event(bob) == listed(team, (team.alice, "viewing"))

    monkeypatch.setattr(presence, "_clock", lambda: time.time() + presence.PRESENCE_TTL + 1)
    await bob.send_json_to({"action": "presence_query", "conversation_id": team.conversation.pk})

    assert await presence_event(bob) == listed(team)
    assert redis_mode.hlen(presence_key(team.conversation)) == 1  # not swept yet
    await alice.disconnect()
    assert await presence_event(bob) == listed(team)  # her entry may still be on screens: told again
    await bob.disconnect()


async def test_a_flood_of_presence_frames_is_coalesced_into_a_few_broadcasts(redis_mode, team):
    """3,000 frames from one socket were 3,000 broadcasts and took 26-36 s to work through: now the latest
    state per conversation wins, applied at most every ``COALESCE_SECONDS``."""
    alice, bob = await connect(team.alice), await connect(team.bob)
    frames = 3000

    for n in range(frames):
        await announce(alice, team.conversation, "replying" if n % 2 else "viewing")  # ends with "replying"
    await alice.send_json_to({"action": "ping"})

    told = [await presence_event(bob, timeout=30)]
    while told[-1] != listed(team, (team.alice, "replying")) or not await bob.receive_nothing(timeout=2):
        told.append(await presence_event(bob, timeout=30))
    assert len(told) < frames / 10, f"{len(told)} broadcasts for {frames} frames"
    received = [await receive_event(alice) for _ in range(len(told) + 1)]
    assert {"event": "pong"} in received
    await alice.disconnect()
    await bob.disconnect()


async def test_bad_input_gets_a_precise_error_and_the_socket_stays_open(redis_mode, team):
    alice, bob = await connect(team.alice), await connect(team.bob)
    cid = team.conversation.pk
    need_id = "'conversation_id' is required: the id of a conversation, an integer."
    not_int = "'conversation_id' must be an integer, not {}."
    states = "expected 'viewing', 'replying' or 'left'."
    actions = "known actions: 'ping', 'presence', 'presence_query', 'activity'."

    def viewing(conversation_id: Any) -> dict[str, Any]:
        return {"action": "presence", "conversation_id": conversation_id, "state": "viewing"}

    cases = [
        ({"action": "presence", "state": "viewing"}, need_id),
        (viewing(str(cid)), not_int.format(f"'{cid}'")),
        (viewing(True), not_int.format("True")),
        (viewing(1.5), not_int.format("1.5")),
        (viewing(None), not_int.format("None")),
        ({"action": "presence", "conversation_id": cid}, "'state' is required: 'viewing', 'replying' or 'left'."),
        ({"action": "presence", "conversation_id": cid, "state": "typing"}, f"Unknown state 'typing'; {states}"),
        ({"action": "presence", "conversation_id": cid, "state": ["viewing"]}, f"Unknown state ['viewing']; {states}"),
        (viewing(2**70), NOT_VISIBLE.format(2**70)),
        ({"action": "presence_query"}, need_id),
        ({"action": "presence_query", "conversation_id": "x" * 100}, not_int.format("'" + "x" * 36 + "...")),
        ({"action": "launch"}, f"Unknown action 'launch'; {actions}"),
        ([1, 2], f"Unknown action None; {actions}"),
    ]

    for content, detail in cases:
        await alice.send_json_to(content)
        assert await alice.receive_json_from(timeout=30) == {"event": "error", "detail": detail}, content

    await alice.send_json_to({"action": "ping"})
    assert await alice.receive_json_from(timeout=30) == {"event": "pong"}
    assert await bob.receive_nothing(timeout=0.5)
    await alice.disconnect()
    await bob.disconnect()


# The quick start: no Redis ----------------------------------------------------------------------------------


async def test_presence_works_over_the_in_memory_layer_without_redis(local_mode, team):
    alice, bob = await connect(team.alice), await connect(team.bob)

    await announce(alice, team.conversation, "viewing")
    assert await presence_event(bob) == listed(team, (team.alice, "viewing"))
    await alice.disconnect()

    assert await presence_event(bob) == listed(team)
    await bob.disconnect()
