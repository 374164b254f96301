"""Fan-out across real web processes (uvicorn on the Redis channel layer), with events published from
another process (this one): each socket of each process gets each event exactly once and in order, each
process is one member of the group, and a client that stops reading holds nobody else up.

Nothing is timed: deadlines are generous and only fail a test that would otherwise hang.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import pytest
import redis
from channels.layers import channel_layers
from django.db import connection, transaction
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from inbox import realtime
from tests.factories import make_agent, make_inbox
from tests.helpers import REDIS_URL, session_cookie
from tests.inbox.asgi_small_backlog import BACKLOG
from tests.live_uvicorn import UvicornProcess

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_channel_layer")]

PROCESSES = 2
SOCKETS_PER_PROCESS = 3
EVENTS = 60


def publish(group: str, numbers: range, *, together: bool = False, pad: str = "") -> None:
    """``note.created`` numbered events to ``group`` from this process, one transaction each or all in one."""
    try:
        if together:
            with transaction.atomic():
                for n in numbers:
                    realtime.publish(groups=[group], event="note.created", data={"n": n, "pad": pad})
        else:
            for n in numbers:
                realtime.publish(groups=[group], event="note.created", data={"n": n, "pad": pad})
        assert realtime.flush(timeout=30)
    finally:
        connection.close()


async def numbers(client: ClientConnection, count: int) -> list[int]:
    """The numbers of the next ``count`` events the client gets, whatever frames carry them."""
    received: list[int] = []
    while len(received) < count:
        frame = json.loads(await asyncio.wait_for(client.recv(), 30))
        received += [event["data"]["n"] for event in (frame if isinstance(frame, list) else [frame])]
    return received


def servers(tmp_path: Path, count: int, app: str = "config.asgi:application") -> list[UvicornProcess]:
    started = []
    for n in range(count):
        server = UvicornProcess(tmp_path / f"uvicorn-{n}.log", app=app)
        server.start()
        started.append(server)
    return started


def socket_url(server: UvicornProcess) -> str:
    return server.base_url.replace("http", "ws") + "/ws/inbox/"


def test_every_socket_of_every_process_gets_each_event_once_and_in_order(tmp_path: Path):
    # given two uvicorn processes with three sockets each, of two agents of one inbox
    agents = [make_agent(), make_agent()]
    inbox = make_inbox(members=tuple(agents))
    cookies = [session_cookie(agent).decode() for agent in agents]
    group = realtime.inbox_group(inbox.pk)
    running = servers(tmp_path, PROCESSES)

    async def scenario() -> tuple[list[list[int]], int]:
        clients = [
            await connect(
                socket_url(server), additional_headers={"Cookie": cookies[n % 2], "Origin": "http://127.0.0.1"}
            )
            for server in running
            for n in range(SOCKETS_PER_PROCESS)
        ]
        try:
            # when this process publishes 60 events: 40 one by one, then 20 in one transaction
            await asyncio.to_thread(publish, group, range(40))
            await asyncio.to_thread(publish, group, range(40, EVENTS), together=True)
            received = [await numbers(client, EVENTS) for client in clients]
            members = redis.Redis.from_url(REDIS_URL).zcard(f"backchannel:group:{group}")
            # nothing more: each event came once
            for client in clients:
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(client.recv(), 0.5)
            return received, members
        finally:
            for client in clients:
                await client.close()

    try:
        received, members = asyncio.run(scenario())
    finally:
        for server in running:
            server.stop()

    # then each socket got every event, once, in order; each process is one member of the group
    assert received == [list(range(EVENTS))] * (PROCESSES * SOCKETS_PER_PROCESS)
    assert members == PROCESSES
    for server in running:
        assert "Traceback" not in server.log(), server.log()


def test_a_client_that_stops_reading_holds_nobody_up_and_is_closed_with_1013(tmp_path: Path, settings):
    """Without the broadcaster's bounded mailboxes a client that never reads would make the process buffer
    for it forever; with a shared loop that waited for each socket, it would stall everyone."""
    # The sender enforces the channel's capacity: production's (config/settings.py), not channels-redis's 100,
    # which 150 events of 64 KB published at once can exceed while the server reads them.
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = 20000
    channel_layers.backends.clear()
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    headers = {"Cookie": session_cookie(agent).decode(), "Origin": "http://127.0.0.1"}
    group = realtime.inbox_group(inbox.pk)
    (server,) = servers(tmp_path, 1, app="tests.inbox.asgi_small_backlog:application")
    events = 150
    pad = os.urandom(32768).hex()  # 64 KB an event: 9.6 MB in all, more than TCP buffers hold (4 MB at most)

    async def scenario() -> tuple[list[list[int]], list[int], int | None]:
        # a client that reads nothing: a tiny receive buffer, no compression, one message queued at most
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", server.port))
        stuck = await connect(socket_url(server), sock=raw, additional_headers=headers, compression=None, max_queue=1)
        readers = [await connect(socket_url(server), additional_headers=headers, max_queue=None) for _ in range(2)]
        try:
            # when 150 events are published, the others reading as they come
            reading = asyncio.gather(*(numbers(reader, events) for reader in readers))
            await asyncio.to_thread(publish, group, range(events), pad=pad)
            # the others get them all while the stuck client reads nothing
            received = await reading
            # then, reading at last, the stuck client finds a beginning of them, and the close
            got: list[int] = []
            try:
                while True:
                    frame = json.loads(await asyncio.wait_for(stuck.recv(), 30))
                    got += [event["data"]["n"] for event in (frame if isinstance(frame, list) else [frame])]
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
            return received, got, code
        finally:
            for client in [stuck, *readers]:
                await client.close()

    try:
        received, got, code = asyncio.run(scenario())
    finally:
        server.stop()

    assert received == [list(range(events))] * 2
    assert code == 1013
    assert got == list(range(len(got))) and len(got) < events - BACKLOG, f"the stuck client got {len(got)}"
