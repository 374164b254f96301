"""Benchmark: presence ends with the socket, and /healthz tells the truth, on the production-shaped stack.

Starts uvicorn and a Celery worker on PostgreSQL and Redis (bench/harness.py) with the production presence
settings (entries re-stamped every 2 s, expiring 6 s after the last re-stamp), and a stream of signed DM
webhooks at ``--rate`` per second through ``/twitter/webhook/`` (the drain publishes each DM to the inbox's
agents). Bob watches a conversation from his socket while Alice, ``--tries`` times, opens a socket, views
the conversation and closes it in one of three ways, in turn: a closing handshake, a dropped connection
(no handshake), and "view then close at once" (before Bob was even told). For each try it measures the
seconds from the close until Alice is gone everywhere: from Bob's screen (the ``agent.presence`` he got
last), from the presence store and from the sockets auto-assignment counts (``users_connected``). A try
where she is still somewhere ``--ghost-seconds`` after the close is a ghost: only an expiry (6-8 s), not
the socket's cleanup, would have removed her.

Then: 3,000 presence frames in 3 s from one socket (how many broadcasts Bob gets, and how long until his
screen shows the last state), and ``/healthz`` with 50 idle agent sockets open in the server.

    BENCH_DATABASE_URL=postgres://.../bc_bench BENCH_REDIS_URL=redis://127.0.0.1:6379/12 \\
        python bench/presence.py [--tries 100] [--rate 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness, ingest  # noqa: E402

WAYS = ("closing handshake", "dropped connection", "view then close at once")


def session_key(user: Any) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def prepare() -> dict[str, Any]:
    """The connected inbox and its agent Bob (bench/ingest.py's), and Alice, a second agent of it."""
    bob_cookie = ingest.prepare()  # sets Django up
    from accounts.models import User
    from accounts.services import user_create
    from inbox.models import Inbox
    from inbox.services.inboxes import inbox_member_add

    alice = user_create(email="alice@example.test", password="bench-password-1", name="Alice", role=User.Role.AGENT)
    inbox_member_add(inbox=Inbox.objects.get(x_user_id=ingest.BUSINESS_ID), user=alice)
    bob = User.objects.get(email="bench@example.test")
    return {"alice": alice.pk, "bob": bob.pk, "cookies": {"alice": session_key(alice), "bob": bob_cookie}}


def first_conversation(base_url: str) -> int:
    """POST delivery 0 and return the id of the conversation it opens."""
    from inbox.models import Conversation

    host = base_url.removeprefix("http://")
    head, _, body = ingest.signed_request(0, host).partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    answer = requests.post(base_url + ingest.WEBHOOK_PATH, data=body, headers=headers, timeout=10)
    answer.raise_for_status()
    deadline = time.monotonic() + 60
    while (conversation := Conversation.objects.order_by("pk").first()) is None:
        if time.monotonic() > deadline:
            raise SystemExit("The first DM was never stored; see the stack's logs.")
        time.sleep(0.1)
    return conversation.pk


class Screen:
    """What an agent's socket was told about one conversation's presence, and how many times."""

    def __init__(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        self.agents: dict[int, str] = {}  # agent id -> state
        self.broadcasts = 0
        self.last_at = 0.0
        self.dms = 0  # message.created events received

    async def watch(self, socket: ClientConnection) -> None:
        async for raw in socket:
            event = json.loads(raw)
            self.dms += event.get("event") == "message.created"
            if event.get("event") == "agent.presence" and event["data"]["conversation_id"] == self.conversation_id:
                self.agents = {agent["id"]: agent["state"] for agent in event["data"]["agents"]}
                self.broadcasts += 1
                self.last_at = time.perf_counter()


async def dm_stream(base_url: str, rate: float, first: int) -> None:
    """Signed DM webhooks at ``rate`` per second over one keep-alive connection, until cancelled."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = await ingest.Connection.open(host, int(port))
    started, n = time.perf_counter(), 0
    try:
        while True:
            status, answer = await connection.exchange(ingest.signed_request(first + n, f"{host}:{port}"))
            if status != 200:
                raise SystemExit(f"delivery {first + n}: {status} {answer[:200]!r}")
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
    finally:
        connection.writer.close()


async def seconds_until(condition: Callable[[], bool], limit: float) -> float | None:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > limit:
            return None
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


async def closes(url: str, setup: dict[str, Any], screen: Screen, args: argparse.Namespace) -> None:
    from django.conf import settings

    from accounts import online
    from inbox.services import presence_store

    store = presence_store.redis_store(settings.REDIS_URL)
    alice = setup["alice"]
    headers = {"Cookie": f"sessionid={setup['cookies']['alice']}", "Origin": "http://127.0.0.1"}
    viewing = json.dumps({"action": "presence", "conversation_id": screen.conversation_id, "state": "viewing"})

    def alice_anywhere() -> bool:
        entries = store.entries(screen.conversation_id).values()
        return (
            alice in screen.agents or any(e.user_id == alice for e in entries) or bool(online.users_connected([alice]))
        )

    gone_after: dict[str, list[float]] = {way: [] for way in WAYS}
    ghosts, never_gone = [], 0
    dms_before, started = screen.dms, time.perf_counter()
    for n in range(args.tries):
        way = WAYS[n % len(WAYS)]
        socket = await connect(url, additional_headers=headers)
        if await seconds_until(lambda: bool(online.users_connected([alice])), 30) is None:
            raise SystemExit(f"try {n}: Alice's socket was never counted")
        await socket.send(viewing)
        if way != "view then close at once":
            if await seconds_until(lambda: alice in screen.agents, 30) is None:
                raise SystemExit(f"try {n}: Bob never saw Alice")
            await asyncio.sleep(random.uniform(0, 0.1))  # DMs keep arriving at her socket meanwhile
        if way == "dropped connection":
            socket.transport.abort()
        else:
            await socket.close()
        seconds = await seconds_until(lambda: not alice_anywhere(), 30)
        if seconds is None:
            never_gone += 1
            seconds = 30.0
        gone_after[way].append(seconds)
        if seconds > args.ghost_seconds:
            where = [
                name
                for name, there in (
                    ("Bob's screen", alice in screen.agents),
                    ("the store", any(e.user_id == alice for e in store.entries(screen.conversation_id).values())),
                    ("users_connected", bool(online.users_connected([alice]))),
                )
                if there
            ]
            ghosts.append(f"try {n} ({way}): {seconds:.1f} s, still in {', '.join(where) or 'nothing by then'}")
    everything = sorted(s for values in gone_after.values() for s in values)
    dms, seconds = screen.dms - dms_before, time.perf_counter() - started
    print(f"DMs that reached Bob's socket meanwhile: {dms} in {seconds:.0f} s ({dms / seconds:.1f}/s)")
    print(f"presence after a close, {args.tries} tries during {args.rate:g} DMs/s (gone from Bob's screen, the store")
    print("  and users_connected):")
    for way, values in gone_after.items():
        print(f"  {way:>24}: {len(values)} tries, p50 {statistics.median(values):.3f} s, max {max(values):.3f} s")
    p99 = everything[min(len(everything) - 1, int(len(everything) * 0.99))]
    print(f"  {'all':>24}: p50 {statistics.median(everything):.3f} s, p99 {p99:.3f} s, max {everything[-1]:.3f} s")
    print(f"  ghosts (still there {args.ghost_seconds:g} s after the close): {len(ghosts)} {ghosts or ''}")
    print(f"  still there 30 s after the close: {never_gone}")


async def flood(url: str, setup: dict[str, Any], screen: Screen) -> None:
    headers = {"Cookie": f"sessionid={setup['cookies']['alice']}", "Origin": "http://127.0.0.1"}
    frames = 3000
    async with connect(url, additional_headers=headers) as socket:
        before = screen.broadcasts
        started = time.perf_counter()
        for n in range(frames):
            state = "replying" if n % 2 else "viewing"
            await socket.send(
                json.dumps({"action": "presence", "conversation_id": screen.conversation_id, "state": state})
            )
            await asyncio.sleep(max(0.0, started + (n + 1) * 0.001 - time.perf_counter()))
        sent = time.perf_counter()
        await asyncio.sleep(3)  # anything still queued arrives meanwhile
        last, shown = max(screen.last_at - sent, 0.0), screen.agents.get(setup["alice"])
        print(
            f"flood: {frames} presence frames in {sent - started:.1f} s -> {screen.broadcasts - before} broadcasts to "
            f"Bob, the last {last:.2f} s after the last frame, showing her {shown}"
        )


def healthz_with_idle_sockets(base_url: str, url: str, setup: dict[str, Any]) -> None:
    async def check() -> list[tuple[int, Any]]:
        headers = {"Cookie": f"sessionid={setup['cookies']['bob']}", "Origin": "http://127.0.0.1"}
        sockets = [await connect(url, additional_headers=headers) for _ in range(50)]
        await asyncio.sleep(6)  # idle: their reads block in Redis (BZPOPMIN, 5 s) meanwhile
        answers = []
        for _ in range(5):
            answer = await asyncio.to_thread(requests.get, base_url + "/healthz", timeout=30)
            answers.append((answer.status_code, answer.json()["checks"]["channel_layer"]))
        for socket in sockets:
            await socket.close()
        return answers

    answers = asyncio.run(check())
    statuses = [status for status, _ in answers]
    layer_ms = [check.get("ms") for _, check in answers]
    print(f"/healthz with 50 idle agent sockets open: {statuses} (channel layer round trip, ms: {layer_ms})")


async def measure(base_url: str, setup: dict[str, Any], conversation_id: int, args: argparse.Namespace) -> None:
    url = base_url.replace("http", "ws") + "/ws/inbox/"
    screen = Screen(conversation_id)
    headers = {"Cookie": f"sessionid={setup['cookies']['bob']}", "Origin": "http://127.0.0.1"}
    async with connect(url, additional_headers=headers) as bob:
        watching = asyncio.create_task(screen.watch(bob))
        stream = asyncio.create_task(dm_stream(base_url, args.rate, first=1))
        await asyncio.sleep(2)
        await closes(url, setup, screen, args)
        await flood(url, setup, screen)
        stream.cancel()
        watching.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=100)
    parser.add_argument("--rate", type=float, default=40, help="DM webhooks per second during the closes")
    parser.add_argument("--ghost-seconds", type=float, default=2.0)
    args = parser.parse_args()

    harness.recreate_database()
    setup = prepare()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-presence-"))
    with harness.running_stack(log_dir=log_dir) as stack:
        database = harness.BENCH_DATABASE_URL.rsplit("/", 1)[-1]
        print(f"stack: uvicorn x1, celery concurrency 2, PostgreSQL {database}, Redis {harness.BENCH_REDIS_URL}; "
              f"{os.cpu_count()} cores; logs in {log_dir}")  # fmt: skip
        conversation_id = first_conversation(stack.base_url)
        asyncio.run(measure(stack.base_url, setup, conversation_id, args))
        healthz_with_idle_sockets(stack.base_url, stack.base_url.replace("http", "ws") + "/ws/inbox/", setup)
    errors = sum(
        path.read_text(errors="replace").count("Exception in ASGI application") for path in log_dir.glob("*.log")
    )
    print(f"'Exception in ASGI application' in the server's log: {errors}")


if __name__ == "__main__":
    main()
