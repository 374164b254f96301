"""An agent's presence follows their inbox pages (inbox/services/agent_status.py, accounts/presence.py):
Online while a page is open and in use, Away when chosen or when every page is idle, Offline when the
last socket closes or when chosen; the choice is kept across sessions; coming online gets work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts import online
from accounts.models import User
from accounts.presence import presence_now
from config.asgi import application
from inbox.models import Conversation, Inbox
from inbox.services.agent_status import agent_presence_choose
from inbox.services.ingest import dm_event_ingest
from tests.factories import BASE_TIME, dm, make_agent, make_inbox
from tests.helpers import receive_event, session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_channel_layer", "clean_online_state"),
]

ORIGIN = (b"origin", b"http://localhost")


async def open_page(agent: User) -> WebsocketCommunicator:
    cookie = await sync_to_async(session_cookie)(agent)
    communicator = WebsocketCommunicator(application, "/ws/inbox/?status=1", headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def next_status(communicator: WebsocketCommunicator) -> dict[str, Any]:
    """The next ``agent.status`` the page gets (other frames skipped)."""
    for _ in range(20):
        frame = await receive_event(communicator, timeout=5)
        if frame.get("event") == "agent.status":
            return frame["data"]
    raise AssertionError("no agent.status")


def stored(agent: User) -> str:
    agent.refresh_from_db()
    return agent.presence


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await sync_to_async(condition)():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition did not become true in time")


async def test_opening_the_inbox_makes_an_agent_online_and_closing_the_last_page_offline():
    # given an agent who just logged in: offline
    agent = await sync_to_async(make_agent)()
    assert await sync_to_async(stored)(agent) == User.Presence.OFFLINE

    # when they open the inbox, then a second tab
    first = await open_page(agent)
    status = await next_status(first)
    second = await open_page(agent)

    # then they are online, told so on their page, and stay online while one tab is open
    assert status == {"user_id": agent.pk, "presence": "online", "label": "Online", "choice": "auto"}
    assert await sync_to_async(stored)(agent) == User.Presence.ONLINE
    await first.disconnect()
    await until(lambda: online.users_connected([agent.pk]) == {agent.pk})
    assert await sync_to_async(presence_now)(agent) == User.Presence.ONLINE
    assert await sync_to_async(stored)(agent) == User.Presence.ONLINE

    # and offline once the last one closes
    await second.disconnect()
    await until(lambda: stored(agent) == User.Presence.OFFLINE)
    assert await sync_to_async(presence_now)(agent) == User.Presence.OFFLINE


async def test_away_chosen_is_kept_across_sessions_until_auto_is_chosen_again():
    agent = await sync_to_async(make_agent)()
    page = await open_page(agent)
    await next_status(page)  # online

    await sync_to_async(agent_presence_choose)(user=agent, choice=User.PresenceChoice.AWAY)
    assert (await next_status(page))["presence"] == "away"
    await page.disconnect()
    await until(lambda: stored(agent) == User.Presence.OFFLINE)

    # a new session: the page opens, the agent is still away as chosen
    page = await open_page(agent)
    assert (await next_status(page))["presence"] == "away"
    assert (await sync_to_async(User.objects.get)(pk=agent.pk)).presence_choice == User.PresenceChoice.AWAY

    await sync_to_async(agent_presence_choose)(user=agent, choice=User.PresenceChoice.AUTO)
    assert (await next_status(page)) == {"user_id": agent.pk, "presence": "online", "label": "Online", "choice": "auto"}

    await sync_to_async(agent_presence_choose)(user=agent, choice=User.PresenceChoice.OFFLINE)
    assert (await next_status(page))["presence"] == "offline"  # chose offline with the page open
    await page.disconnect()


async def test_an_idle_page_makes_the_agent_away_and_activity_online_again():
    agent = await sync_to_async(make_agent)()
    one, two = await open_page(agent), await open_page(agent)
    await next_status(one)  # online

    # one tab idle, the other still in use: online
    await one.send_json_to({"action": "activity", "idle": True})
    await until(lambda: online.users_active([agent.pk]) == {agent.pk} and len(online._idle) == 1)
    assert await sync_to_async(stored)(agent) == User.Presence.ONLINE

    # both idle: away, and the page is told
    await two.send_json_to({"action": "activity", "idle": True})
    assert (await next_status(one))["presence"] == "away"
    assert await sync_to_async(stored)(agent) == User.Presence.AWAY
    assert await sync_to_async(presence_now)(agent) == User.Presence.AWAY

    # a key pressed in one: online again
    await one.send_json_to({"action": "activity", "idle": False})
    assert (await next_status(one))["presence"] == "online"
    assert await sync_to_async(stored)(agent) == User.Presence.ONLINE
    for page in (one, two):
        await page.disconnect()


async def test_an_activity_frame_without_a_boolean_is_answered_with_an_error():
    agent = await sync_to_async(make_agent)()
    page = await open_page(agent)
    await next_status(page)

    await page.send_json_to({"action": "activity", "idle": "yes"})
    frame = await receive_event(page, timeout=5)

    assert frame == {"event": "error", "detail": "'idle' must be true or false, not 'yes'."}
    await page.disconnect()


async def test_an_agent_who_opens_the_inbox_gets_the_waiting_conversation_at_once(published):
    # given an auto-assigning inbox with a conversation waiting, and its agent just logged in
    agent = await sync_to_async(make_agent)()

    def waiting() -> Conversation:
        inbox = make_inbox(members=(agent,))
        Inbox.objects.filter(pk=inbox.pk).update(auto_assign=True)
        inbox.refresh_from_db()
        event = dm(inbox, "3100000001", text="hello?", at=BASE_TIME + timedelta(seconds=1))
        return dm_event_ingest(inbox=inbox, event=event).message.conversation

    conversation = await sync_to_async(waiting)()
    assert conversation.assignee_id is None  # nobody online when it came in

    # when they open the inbox (no beat runs here)
    page = await open_page(agent)

    # then auto-assignment sees them online and gives it to them
    await until(lambda: Conversation.objects.get(pk=conversation.pk).assignee_id == agent.pk)
    await page.disconnect()


def test_the_sweep_sets_offline_an_agent_whose_server_died_with_the_page_open(published, monkeypatch):
    import time

    from accounts.services import presence_record
    from inbox.services.agent_status import agent_status_sweep

    # given an agent stored online, whose only socket's server died (nothing re-stamps it any more)
    agent, idle_agent = make_agent(), make_agent()
    presence_record(user=agent, presence=User.Presence.ONLINE)
    presence_record(user=idle_agent, presence=User.Presence.ONLINE)
    online.agent_socket_opened(user_id=agent.pk, connection="dead-server.1")
    online.agent_socket_opened(user_id=idle_agent.pk, connection="live-server.1")
    online.agent_socket_idle(user_id=idle_agent.pk, connection="live-server.1", idle=True)
    with online._lock:
        online._mine.pop("dead-server.1")  # that process is gone
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + online.CONNECTION_TTL + 1)
    online._refresh()  # the live server keeps its own socket

    # when the beat sweeps
    changed = agent_status_sweep()

    # then the stored state follows, and the change is told
    assert changed == 2
    assert stored(agent) == User.Presence.OFFLINE
    assert stored(idle_agent) == User.Presence.AWAY
    statuses = [message["data"] for _, message in published.sent if message["event"] == "agent.status"]
    assert {(s["user_id"], s["presence"]) for s in statuses} == {
        (agent.pk, "offline"),
        (idle_agent.pk, "away"),
    }
