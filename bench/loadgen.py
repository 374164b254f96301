"""The load generator every webhook benchmark shares: signed deliveries in, websocket frames out.

Lean on purpose, because on a two-core machine it shares the cores with what it measures: asyncio on
uvloop, HTTP/1.1 written by hand over keep-alive connections, request bodies signed before the clock
starts (with ``requests`` in 16 threads it used 2 ms of CPU per POST), and websocket clients written as
plain asyncio protocols (``wsclient.py``), so that 200 sockets cost the generator little.

``Session`` holds a stack's address and its open sockets; ``throughput`` and ``paced`` POST deliveries
and time each one from the start of its POST to the moment each socket receives its ``message.created``
(recognised by the X event id it carries, whatever else the frame holds). Nothing here knows which stack
it drives: Backchannel and the floor (``bench/floor/``) get the same requests and the same clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bench.harness import BUSINESS_ID, CONSUMER_SECRET
from bench.wsclient import SocketClient, open_socket

CUSTOMERS = 500
FIRST_EVENT_ID = 1_870_000_000_000_000_000
WEBHOOK_PATH = "/twitter/webhook/"


class BenchError(Exception):
    """A run that could not be measured (a POST refused, a socket refused)."""


def event_id(n: int) -> str:
    return str(FIRST_EVENT_ID + n * 4096)


def delivery(n: int) -> bytes:
    """Delivery ``n``: one DM to the business account from one of ``CUSTOMERS`` customers, as X sends it."""
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


def signature(body: bytes, secret: str = CONSUMER_SECRET) -> str:
    """X's ``x-twitter-webhooks-signature`` of ``body``."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signed_request(n: int, host: str) -> bytes:
    """The whole HTTP/1.1 request for delivery ``n``, signed as X signs it."""
    return signed_post(delivery(n), host)


def signed_post(body: bytes, host: str) -> bytes:
    """The whole HTTP/1.1 request POSTing ``body`` to the webhook, signed as X signs it."""
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nx-twitter-webhooks-signature: {signature(body)}\r\n\r\n"
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

    def close(self) -> None:
        self.writer.close()


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def message_ids(frame: bytes) -> list[str]:
    """The X event ids of the ``message.created`` events in one websocket frame.

    A frame holds one event (``{"event": ..., "data": {...}}``), a list of them, or ``{"events": [...]}``;
    frames without ``message.created`` are not parsed at all.
    """
    if b"message.created" not in frame:
        return []
    value = json.loads(frame)
    if isinstance(value, dict) and value.get("event") == "message.created" and isinstance(value.get("data"), dict):
        return [str(value["data"].get("x_event_id"))]  # the usual frame, without the walk below
    found: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            if item.get("event") == "message.created" and isinstance(item.get("data"), dict):
                found.append(str(item["data"].get("x_event_id")))
            elif isinstance(item.get("events"), list):
                pending.extend(item["events"])
    return found


class Tracker:
    """One run: when each POST started and was answered, when each socket received each event."""

    def __init__(self, ids: Iterable[str], sockets: int) -> None:
        self.expected = set(ids)
        self.started: dict[str, float] = {}
        self.answered_ms: list[float] = []
        self.arrived: list[dict[str, float]] = [{} for _ in range(sockets)]
        self._missing = [len(self.expected)] * sockets
        self._incomplete = sockets if self.expected else 0
        self.complete = asyncio.Event()
        if not self._incomplete:
            self.complete.set()

    def arrival(self, socket: int, x_event_id: str, at: float) -> None:
        arrived = self.arrived[socket]
        if x_event_id in arrived or x_event_id not in self.expected:
            return
        arrived[x_event_id] = at
        self._missing[socket] -= 1
        if self._missing[socket] == 0:
            self._incomplete -= 1
            if self._incomplete == 0:
                self.complete.set()

    def missing(self) -> int:
        """Events not received, summed over the sockets."""
        return sum(self._missing)

    def latencies_ms(self, socket: int, ids: Iterable[str]) -> list[float]:
        arrived = self.arrived[socket]
        return [(arrived[e] - self.started[e]) * 1000 for e in ids if e in arrived]


@dataclass
class Session:
    """A stack under test: where to POST, and the websockets open on it."""

    host: str
    port: int
    sockets: list[SocketClient] = field(default_factory=list)
    tracker: Tracker | None = None

    @classmethod
    def of(cls, base_url: str) -> Session:
        host, port = base_url.removeprefix("http://").split(":")
        return cls(host=host, port=int(port))

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    def requests(self, numbers: Iterable[int]) -> dict[int, bytes]:
        return {n: signed_request(n, self.authority) for n in numbers}

    async def open_sockets(self, path: str, headers: Sequence[Sequence[tuple[str, str]]], wave: int = 10) -> None:
        """Open one websocket per entry of ``headers`` (``wave`` at a time) and wait until each is accepted."""
        first = len(self.sockets)
        for start in range(0, len(headers), wave):
            opened = await asyncio.gather(
                *(
                    open_socket(self.host, self.port, path, list(h), index=first + start + i, on_frame=self._frame)
                    for i, h in enumerate(headers[start : start + wave])
                )
            )
            self.sockets.extend(opened)

    async def close_sockets(self) -> None:
        sockets, self.sockets = self.sockets, []
        await asyncio.gather(*(socket.close() for socket in sockets))

    def _frame(self, index: int, frame: bytes, at: float) -> None:
        tracker = self.tracker
        if tracker is None:
            return
        for x_event_id in message_ids(frame):
            tracker.arrival(index, x_event_id, at)

    async def connections(self, count: int) -> list[Connection]:
        # Opened for each run: uvicorn closes a connection left idle for 5 s.
        return [await Connection.open(self.host, self.port) for _ in range(count)]

    def _track(self, requests: dict[int, bytes]) -> Tracker:
        for socket in self.sockets:
            if socket.close_code is not None:
                raise BenchError(f"websocket {socket.index} was closed by the server (code {socket.close_code})")
        self.tracker = Tracker((event_id(n) for n in requests), len(self.sockets))
        return self.tracker

    async def _post(self, connection: Connection, tracker: Tracker, n: int, request: bytes) -> None:
        started = time.perf_counter()
        tracker.started[event_id(n)] = started
        status, answer = await connection.exchange(request)
        tracker.answered_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise BenchError(f"delivery {n}: {status} {answer[:200]!r}")

    async def _wait(self, tracker: Tracker, timeout: float) -> None:
        try:
            await asyncio.wait_for(tracker.complete.wait(), timeout)
        except TimeoutError:
            pass

    async def warm_up(self, requests: dict[int, bytes], timeout: float = 60) -> None:
        """POST ``requests`` one after the other and wait until every socket has them."""
        tracker = self._track(requests)
        connection = await Connection.open(self.host, self.port)
        try:
            for n, request in requests.items():
                await self._post(connection, tracker, n, request)
        finally:
            connection.close()
        await self._wait(tracker, timeout)
        if tracker.missing():
            raise BenchError(f"warm-up: {tracker.missing()} events never reached the websockets")

    async def throughput(self, requests: dict[int, bytes], concurrency: int, timeout: float = 300) -> Throughput:
        """POST ``requests`` over ``concurrency`` connections as fast as they go."""
        connections = await self.connections(concurrency)
        tracker = self._track(requests)
        numbers = iter(requests)

        async def worker(connection: Connection) -> None:
            for n in numbers:
                await self._post(connection, tracker, n, requests[n])

        try:
            await asyncio.gather(*(worker(c) for c in connections))
        finally:
            for connection in connections:
                connection.close()
        posted = time.perf_counter()
        await self._wait(tracker, timeout)
        ids = [event_id(n) for n in requests]
        arrived = tracker.arrived[0]
        start = min(tracker.started.values())
        end = max((arrived[e] for e in ids if e in arrived), default=posted)
        latencies = tracker.latencies_ms(0, ids) or [float("nan")]
        return Throughput(
            events=len(ids),
            connections=concurrency,
            per_second=len(arrived) / max(end - start, 1e-9),
            accepted_per_second=len(ids) / max(posted - start, 1e-9),
            p50_ms=statistics.median(latencies),
            p99_ms=percentile(latencies, 99),
            missing=len(ids) - len(arrived),
        )

    async def paced(self, requests: dict[int, bytes], rate: float, concurrency: int, timeout: float = 120) -> Paced:
        """POST ``requests`` at ``rate`` per second (a free connection of ``concurrency`` each)."""
        connections = await self.connections(concurrency)
        tracker = self._track(requests)
        free: asyncio.Queue[Connection] = asyncio.Queue()
        for connection in connections:
            free.put_nowait(connection)
        begin = time.perf_counter()

        async def one(i: int, n: int) -> None:
            await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
            connection = await free.get()
            try:
                await self._post(connection, tracker, n, requests[n])
            finally:
                free.put_nowait(connection)

        try:
            await asyncio.gather(*(one(i, n) for i, n in enumerate(requests)))
        finally:
            for connection in connections:
                connection.close()
        await self._wait(tracker, timeout)
        ids = [event_id(n) for n in requests]
        return Paced(
            rate=rate,
            ids=ids,
            per_socket=[tracker.latencies_ms(s, ids) for s in range(len(self.sockets))],
            answered_ms=tracker.answered_ms,
            missing=tracker.missing(),
        )


@dataclass
class Throughput:
    events: int
    connections: int
    per_second: float  # events received at the first socket over the time from the first POST to the last
    accepted_per_second: float  # POSTs answered over the time from the first POST to the last answer
    p50_ms: float
    p99_ms: float
    missing: int

    def line(self) -> str:
        lost = f"; {self.missing} never arrived" if self.missing else ""
        return (
            f"throughput: {self.events} deliveries over {self.connections} connections: "
            f"{self.per_second:.0f} events/s sustained (p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms under "
            f"that load); the webhook accepted {self.accepted_per_second:.0f} deliveries/s{lost}"
        )


@dataclass
class Paced:
    """A paced run: each socket's latencies (ms) in the order the events were POSTed."""

    rate: float
    ids: list[str]
    per_socket: list[list[float]]
    answered_ms: list[float]
    missing: int

    @property
    def socket_p99s(self) -> list[float]:
        return [percentile(values, 99) if values else float("inf") for values in self.per_socket]

    @property
    def slowest_p99(self) -> float:
        return max(self.socket_p99s)

    def p(self, percent: float, socket: int = 0) -> float:
        values = self.per_socket[socket]
        return percentile(values, percent) if values else float("inf")

    def all_latencies(self) -> list[float]:
        return [value for values in self.per_socket for value in values]

    def drift(self) -> tuple[float, float]:
        """p99 over every socket of the first and of the last quarter of the events: does the delay grow?"""
        quarter = max(1, len(self.ids) // 4)
        first = [v for values in self.per_socket for v in values[:quarter]]
        last = [v for values in self.per_socket for v in values[-quarter:]]
        return (percentile(first, 99) if first else float("inf"), percentile(last, 99) if last else float("inf"))

    def latency_line(self) -> str:
        """One socket's latency, as ``bench/ingest.py`` has always printed it."""
        values = self.per_socket[0]
        lost = f"; {self.missing} never arrived" if self.missing else ""
        return (
            f"latency at {self.rate:.0f} events/s for {len(self.ids) / self.rate:.0f} s ({len(self.ids)} events): "
            f"p50 {percentile(values, 50):.1f} ms, p99 {percentile(values, 99):.1f} ms, "
            f"max {max(values):.1f} ms; the webhook answered in p50 {percentile(self.answered_ms, 50):.1f} ms, "
            f"p99 {percentile(self.answered_ms, 99):.1f} ms{lost}"
        )

    def fanout_lines(self, every_socket: bool = False) -> list[str]:
        """Each socket's p99 (deciles of them, or all), the slowest socket's, and the drift through the run."""
        p99s = sorted(self.socket_p99s)
        deciles = [percentile(p99s, p) for p in range(0, 101, 10)]
        first, last = self.drift()
        everyone = percentile(self.all_latencies(), 50)
        lost = f"; {self.missing} socket-events never arrived" if self.missing else ""
        lines = [
            f"fan-out: {len(self.per_socket)} sockets at {self.rate:.0f} events/s for "
            f"{len(self.ids) / self.rate:.0f} s ({len(self.ids)} events): slowest socket's p99 {p99s[-1]:.0f} ms, "
            f"median socket's p99 {statistics.median(p99s):.0f} ms, p50 of all {everyone:.0f} ms; "
            f"p99 in the first quarter {first:.0f} ms, last quarter {last:.0f} ms{lost}",
            "  every socket's p99, deciles (min, 10%, ..., max): " + " ".join(f"{v:.0f}" for v in deciles),
        ]
        if every_socket:
            lines.append("  every socket's p99: " + " ".join(f"{v:.0f}" for v in self.socket_p99s))
        return lines
