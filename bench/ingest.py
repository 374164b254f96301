"""Benchmark: signed webhook deliveries in, live events out.

Starts uvicorn and a Celery worker on PostgreSQL and Redis (bench/harness.py), connects one agent's
websocket, then POSTs signed Account Activity deliveries (one DM each, from many customers) to
``/twitter/webhook/`` and times each from the start of its POST to the moment the agent's websocket
receives its ``message.created``. Two runs, after 100 deliveries to warm up:

1. throughput: ``--deliveries`` POSTs over ``--concurrency`` keep-alive connections, as fast as they go;
   prints sustained events/s (events received over the time from the first POST to the last receipt);
2. latency: ``--rate`` deliveries per second for ``--seconds``; prints p50 / p99 / max.

After each run it prints the CPU time each part of the stack used per event (from /proc), the load
generator included: on a two-core machine everything shares the same cores.

The load generator is lean on purpose (asyncio on uvloop, HTTP/1.1 written by hand, bodies signed
before the clock starts): with ``requests`` in 16 threads it used 2 ms of CPU per POST, a third of
what the whole stack may spend at 300 events/s on two cores.

    python bench/ingest.py [--deliveries 3000] [--concurrency 16] [--rate 50] [--seconds 20]

Targets on a 2-core machine: >= 300 events/s sustained; p99 <= 100 ms at 50 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import uvloop
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness  # noqa: E402

BUSINESS_ID = "1500000000000000001"
CUSTOMERS = 500
FIRST_EVENT_ID = 1_870_000_000_000_000_000
WEBHOOK_PATH = "/twitter/webhook/"


def prepare(env: dict[str, str] | None = None) -> str:
    """A connected inbox and an agent who is a member; return the agent's session cookie value."""
    harness.django_setup(env)
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from accounts.models import User
    from accounts.services import user_create
    from inbox.services.inboxes import inbox_member_add, inbox_upsert
    from twitter_channel.models import XAccount

    agent = user_create(email="bench@example.test", password="bench-password-1", name="Bench", role=User.Role.AGENT)
    inbox = inbox_upsert(x_user_id=BUSINESS_ID, handle="AcmeSupport", display_name="Acme Support")
    inbox_member_add(inbox=inbox, user=agent)
    now = timezone.now()
    account = XAccount(inbox=inbox, status_changed_at=now, connected_at=now, scopes="dm.read dm.write")
    account.access_token, account.refresh_token = "bench-access", "bench-refresh"
    account.save()
    session = SessionStore()
    session[SESSION_KEY] = str(agent.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = agent.get_session_auth_hash()
    session.create()
    return session.session_key


def event_id(n: int) -> str:
    return str(FIRST_EVENT_ID + n * 4096)


def delivery(n: int) -> bytes:
    customer = str(3_000_000_000 + n % CUSTOMERS)
    created_ms = 1_790_000_000_000 + n * 10
    body = {
        "for_user_id": BUSINESS_ID,
        "direct_message_events": [{
            "type": "message_create", "id": event_id(n), "created_timestamp": str(created_ms),
            "message_create": {"target": {"recipient_id": BUSINESS_ID}, "sender_id": customer,
                               "message_data": {"text": f"bench message {n}", "entities": {}}},
        }],
        "users": {customer: {"id": customer, "name": f"Customer {customer}", "screen_name": f"c{customer}"}},
    }  # fmt: skip
    return json.dumps(body).encode()


def signed_request(n: int, host: str) -> bytes:
    """The whole HTTP/1.1 request for delivery ``n``, signed as X signs it."""
    return signed_post(delivery(n), host)


def signed_post(body: bytes, host: str) -> bytes:
    """The whole HTTP/1.1 request POSTing ``body`` to the webhook, signed as X signs it."""
    digest = hmac.new(harness.CONSUMER_SECRET.encode(), body, hashlib.sha256).digest()
    signature = "sha256=" + base64.b64encode(digest).decode()
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nx-twitter-webhooks-signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection to the webhook: a request, then its whole answer, in turn."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


class Run:
    """What one run measured: when each POST started and was answered, when its event reached the agent."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.answered_ms: list[float] = []
        self.arrived: dict[str, float] = {}
        self.complete = asyncio.Event()
        self.expected: set[str] = set()

    def arrival(self, x_event_id: str, at: float) -> None:
        self.arrived.setdefault(x_event_id, at)
        if self.expected and self.expected.issubset(self.arrived):
            self.complete.set()


async def post(connection: Connection, run: Run, n: int, request: bytes) -> None:
    started = time.perf_counter()
    run.started[event_id(n)] = started
    status, answer = await connection.exchange(request)
    run.answered_ms.append((time.perf_counter() - started) * 1000)
    if status != 200:
        raise SystemExit(f"delivery {n}: {status} {answer[:200]!r}")


async def receive(websocket: object, runs: list[Run]) -> None:
    """The agent's websocket: records when each X event id arrives, for the run under way."""
    async for frame in websocket:
        at = time.perf_counter()
        message = json.loads(frame)
        if message.get("event") == "message.created":
            runs[-1].arrival(message["data"]["x_event_id"], at)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def wait_complete(run: Run, ids: list[str], timeout: float) -> None:
    run.expected = set(ids)
    if run.expected.issubset(run.arrived):
        return
    try:
        await asyncio.wait_for(run.complete.wait(), timeout)
    except TimeoutError:
        missing = len(run.expected - run.arrived.keys())
        raise SystemExit(f"{missing} of {len(ids)} events never reached the websocket") from None


async def throughput(connections: list[Connection], runs: list[Run], requests: dict[int, bytes]) -> str:
    run = Run()
    runs.append(run)
    numbers = iter(requests)

    async def worker(connection: Connection) -> None:
        for n in numbers:
            await post(connection, run, n, requests[n])

    await asyncio.gather(*(worker(c) for c in connections))
    posted = time.perf_counter()
    ids = [event_id(n) for n in requests]
    await wait_complete(run, ids, timeout=300)
    start = min(run.started.values())
    end = max(run.arrived[e] for e in ids)
    latencies = [(run.arrived[e] - run.started[e]) * 1000 for e in ids]
    return (
        f"throughput: {len(ids)} deliveries over {len(connections)} connections: "
        f"{len(ids) / (end - start):.0f} events/s sustained (p50 {percentile(latencies, 50):.0f} ms, "
        f"p99 {percentile(latencies, 99):.0f} ms under that load); the webhook accepted "
        f"{len(ids) / (posted - start):.0f} deliveries/s"
    )


async def latency(connections: list[Connection], runs: list[Run], requests: dict[int, bytes], rate: float) -> str:
    run = Run()
    runs.append(run)
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)
    begin = time.perf_counter()

    async def paced(i: int, n: int) -> None:
        await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
        connection = await free.get()
        try:
            await post(connection, run, n, requests[n])
        finally:
            free.put_nowait(connection)

    await asyncio.gather(*(paced(i, n) for i, n in enumerate(requests)))
    ids = [event_id(n) for n in requests]
    await wait_complete(run, ids, timeout=120)
    latencies = [(run.arrived[e] - run.started[e]) * 1000 for e in ids]
    answered = run.answered_ms
    return (
        f"latency at {rate:.0f} events/s for {len(ids) / rate:.0f} s ({len(ids)} events): "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
        f"max {max(latencies):.1f} ms; the webhook answered in p50 {statistics.median(answered):.1f} ms, "
        f"p99 {percentile(answered, 99):.1f} ms"
    )


PARTS = (("uvicorn", "-m uvicorn"), ("celery", "-m celery"), ("postgres", "postgres"), ("redis", "redis-server"))


def cpu_seconds() -> Counter[str]:
    """CPU time (user + system) used so far by each part of the stack and by this load generator (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: Counter[str] = Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                fields, command = stat.read().rsplit(")", 1)[1].split(), cmdline.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        part = "load generator" if int(pid) == os.getpid() else None
        part = part or next((name for name, marker in PARTS if marker in command), None)
        if part:
            used[part] += (int(fields[11]) + int(fields[12])) / tick
    return used


def cpu_line(before: Counter[str], after: Counter[str], events: int, seconds: float) -> str:
    names = [name for name, _ in PARTS] + ["load generator"]
    parts = [f"{name} {(after[name] - before[name]) * 1000 / events:.2f}" for name in names]
    busy = sum(after.values()) - sum(before.values())
    return f"  CPU ms per event: {', '.join(parts)}; both cores {busy / seconds / 2 * 100:.0f}% busy"


async def measure(base_url: str, cookie: str, args: argparse.Namespace) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    ws_headers = {"Cookie": f"sessionid={cookie}", "Origin": "http://127.0.0.1"}
    runs: list[Run] = [Run()]
    async with connect(base_url.replace("http", "ws") + "/ws/inbox/", additional_headers=ws_headers) as websocket:
        listening = asyncio.create_task(receive(websocket, runs))
        warm = {n: signed_request(n, f"{host}:{port}") for n in range(100)}
        connection = await Connection.open(host, int(port))
        for n, request in warm.items():
            await post(connection, runs[0], n, request)
        connection.writer.close()
        await wait_complete(runs[0], [event_id(n) for n in warm], timeout=60)

        first = 100
        bulk = {n: signed_request(n, f"{host}:{port}") for n in range(first, first + args.deliveries)}
        # Opened for each run: the server closes a connection left idle for 5 s (uvicorn's keep-alive).
        connections = [await Connection.open(host, int(port)) for _ in range(args.concurrency)]
        before, clock = cpu_seconds(), time.perf_counter()
        print(await throughput(connections, runs, bulk))
        print(cpu_line(before, cpu_seconds(), len(bulk), time.perf_counter() - clock))
        for connection in connections:
            connection.writer.close()

        first += args.deliveries
        count = int(args.rate * args.seconds)
        paced = {n: signed_request(n, f"{host}:{port}") for n in range(first, first + count)}
        await asyncio.sleep(2)  # let the stack settle after the burst
        connections = [await Connection.open(host, int(port)) for _ in range(args.concurrency)]
        before, clock = cpu_seconds(), time.perf_counter()
        print(await latency(connections, runs, paced, args.rate))
        print(cpu_line(before, cpu_seconds(), count, time.perf_counter() - clock))
        listening.cancel()
        for connection in connections:
            connection.writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    args = parser.parse_args()

    harness.recreate_database()
    cookie = prepare()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    with harness.running_stack(
        web_workers=args.web_workers, celery_concurrency=args.celery_concurrency, log_dir=log_dir
    ) as stack:
        database = harness.BENCH_DATABASE_URL.rsplit("/", 1)[-1]
        print(
            f"stack: uvicorn x{args.web_workers}, celery concurrency {args.celery_concurrency}, "
            f"PostgreSQL {database}, Redis {harness.BENCH_REDIS_URL}; {os.cpu_count()} cores"
        )
        uvloop.run(measure(stack.base_url, cookie, args))


if __name__ == "__main__":
    main()
