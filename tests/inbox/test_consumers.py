"""The inbox websocket on the Redis channel layer: what reaches an agent, and who is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from config.asgi import application
from inbox.consumers import CLOSE_UNAUTHENTICATED
from inbox.services.demo import DEMO_INBOX
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox, make_team
from tests.helpers import REDIS_URL, receive_event, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_channel_layer")]

ORIGIN = (b"origin", b"http://localhost")


session_cookie_for = sync_to_async(session_cookie)


async def connect(cookie: bytes | None) -> tuple[WebsocketCommunicator, bool, int | None]:
    headers = [ORIGIN] + ([(b"cookie", cookie)] if cookie else [])
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


def ingest_in_other_thread(inbox, event) -> None:
    try:
        dm_event_ingest(inbox=inbox, event=event)
    finally:
        connection.close()


async def test_agent_receives_message_created_from_ingest_in_another_thread():
    # given an agent connected to the websocket, member of the inbox through a team
    agent = await sync_to_async(make_agent)()
    team = await sync_to_async(make_team)(members=(agent,))
    inbox = await sync_to_async(make_inbox)(teams=(team,))
    communicator, connected, _ = await connect(await session_cookie_for(agent))
    assert connected

    # when a DM is ingested by another thread (its own DB connection, publishing through Redis)
    event = dm(inbox, "2244994945", text="Where is my parcel?")
    await asyncio.to_thread(ingest_in_other_thread, inbox, event)

    # then
    first = await receive_event(communicator, timeout=5)
    second = await receive_event(communicator, timeout=5)
    assert first["event"] == "conversation.created"
    assert second["event"] == "message.created"
    assert second["data"]["x_event_id"] == event.x_event_id
    assert second["data"]["direction"] == "inbound"
    assert second["data"]["inbox_id"] == inbox.pk
    await communicator.disconnect()


async def test_agent_receives_events_published_by_another_process(tmp_path: Path):
    # given an admin connected while the demo inbox exists but is empty
    admin = await sync_to_async(make_agent)(role="admin")
    await sync_to_async(make_inbox)(x_user_id=DEMO_INBOX.x_user_id)
    communicator, connected, _ = await connect(await session_cookie_for(admin))
    assert connected

    # when another process (the seed_demo command) ingests DMs into it
    if connection.vendor != "postgresql":
        pytest.fail("A second process cannot share the in-memory SQLite test database; run through `make test`.")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "manage.py", "seed_demo", "--force"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )

    # then the pushes crossed processes through Redis
    received = [await receive_event(communicator, timeout=5) for _ in range(2)]
    assert [r["event"] for r in received] == ["conversation.created", "message.created"]
    await communicator.disconnect()


@pytest.mark.parametrize("cookie", [None, b"sessionid=no-such-session"], ids=["no cookie", "unknown session"])
async def test_a_socket_without_a_valid_session_is_accepted_then_closed_with_4401(cookie):
    """Accepted first: a socket closed before accepting reaches the browser as 1006, and the page, which
    goes to the login page on 4401, would spin on "Reconnecting..." forever."""
    communicator, connected, _ = await connect(cookie=cookie)

    assert connected is True
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    await communicator.disconnect()


async def test_agent_does_not_receive_events_of_inboxes_they_are_not_in():
    outsider = await sync_to_async(make_agent)()
    inbox = await sync_to_async(make_inbox)()
    communicator, connected, _ = await connect(await session_cookie_for(outsider))
    assert connected

    await asyncio.to_thread(ingest_in_other_thread, inbox, dm(inbox, "2244994945"))

    assert await communicator.receive_nothing(timeout=1)
    await communicator.disconnect()


async def test_bad_client_messages_get_a_clear_error_and_the_socket_stays_open():
    agent = await sync_to_async(make_agent)()
    communicator, connected, _ = await connect(await session_cookie_for(agent))
    assert connected

    await communicator.send_to(text_data="{not json")
    assert (await communicator.receive_json_from(timeout=30))["detail"].startswith("Not valid JSON")
    await communicator.send_json_to({"action": "launch"})
    known = "'ping', 'presence', 'presence_query', 'activity'"
    answer = await communicator.receive_json_from(timeout=30)
    assert answer["detail"] == f"Unknown action 'launch'; known actions: {known}."
    await communicator.send_to(bytes_data=b"\x00")
    assert (await communicator.receive_json_from(timeout=30))["event"] == "error"
    await communicator.send_json_to({"action": "ping"})
    assert await communicator.receive_json_from(timeout=30) == {"event": "pong"}
    await communicator.disconnect()


async def test_an_idle_agent_socket_outlives_the_layers_blocking_reads():
    """The layer reads with BZPOPMIN (5 s); redis-py's own socket timeout (5 s by default) must not cut it."""
    agent = await sync_to_async(make_agent)()
    communicator, connected, _ = await connect(await session_cookie_for(agent))
    assert connected

    await asyncio.sleep(12)  # two blocking reads time out on the server side meanwhile
    await communicator.send_json_to({"action": "ping"})

    assert await communicator.receive_json_from(timeout=5) == {"event": "pong"}
    await communicator.disconnect()
