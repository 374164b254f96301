"""The measures of a running stack, in the order the floor comparison takes them.

``measure`` drives one ``stacks.Target`` with the load generator (``loadgen.Session``): a warm-up of 100
deliveries, then whichever of these the ``Plan`` asks for, each with the CPU time of every part counted by
process id (``cpu.CpuMeter``) and printed per event:

- ``ingest``: ``deliveries`` POSTs over ``concurrency`` connections as fast as they go, one socket;
- ``latency``: ``rate`` POSTs a second for ``seconds``, one socket;
- ``fanout``: ``fanout_rate`` POSTs a second for ``seconds``, first with one socket, then with ``sockets``
  sockets open (an agent each on Backchannel).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bench import cpu
from bench.loadgen import Paced, Session, Throughput
from bench.stacks import Target

T = TypeVar("T")
MEASURES = ("ingest", "latency", "fanout")
WARM_UP = 100
SETTLE_SECONDS = 2.0


@dataclass
class Plan:
    measures: tuple[str, ...] = MEASURES
    deliveries: int = 3000
    concurrency: int = 16
    rate: float = 50
    seconds: float = 20
    fanout_rate: float = 10
    sockets: int = 200
    every_socket: bool = False


@dataclass
class Results:
    target: str
    ingest: Throughput | None = None
    latency: Paced | None = None
    single: Paced | None = None
    fanout: Paced | None = None
    cpu: dict[str, cpu.CpuReport] = field(default_factory=dict)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


async def measure(target: Target, plan: Plan, first: int, say: Callable[[str], None] = print) -> tuple[Results, int]:
    """Run ``plan`` against ``target`` with delivery numbers from ``first``; return the results and the next
    unused number (a stack's database keeps what it was sent, so each run needs new X event ids)."""
    results = Results(target=target.name)
    session = Session.of(target.base_url)
    n = first

    def requests(count: int) -> dict[int, bytes]:
        nonlocal n
        n += count
        return session.requests(range(n - count, n))

    async def metered(name: str, run: Awaitable[T]) -> T:
        meter = cpu.CpuMeter(target.parts).start()
        try:
            return await run
        finally:
            results.cpu[name] = meter.stop()

    def paced_count(rate: float) -> int:
        return max(1, int(rate * plan.seconds))

    await session.open_sockets(target.socket_path, target.socket_headers[:1])
    try:
        await session.warm_up(requests(WARM_UP))
        if "ingest" in plan.measures:
            burst = requests(plan.deliveries)
            results.ingest = await metered("ingest", session.throughput(burst, plan.concurrency))
            say(f"  {target.name} {results.ingest.line()}")
            say(results.cpu["ingest"].line(len(burst)))
            await asyncio.sleep(SETTLE_SECONDS)
        if "latency" in plan.measures:
            paced = requests(paced_count(plan.rate))
            results.latency = await metered("latency", session.paced(paced, plan.rate, plan.concurrency))
            say(f"  {target.name} {results.latency.latency_line()}")
            say(results.cpu["latency"].line(len(paced)))
            await asyncio.sleep(SETTLE_SECONDS)
        if "fanout" in plan.measures:
            paced = requests(paced_count(plan.fanout_rate))
            run = session.paced(paced, plan.fanout_rate, plan.concurrency)
            results.single = await metered("single", run)
            say(f"  {target.name} one socket, {results.single.latency_line()}")
            say(results.cpu["single"].line(len(paced)))
            await asyncio.sleep(SETTLE_SECONDS)
            await session.open_sockets(target.socket_path, target.socket_headers[1 : plan.sockets])
            await asyncio.sleep(SETTLE_SECONDS)  # what connecting set off (presence, status) is over
            paced = requests(paced_count(plan.fanout_rate))
            run = session.paced(paced, plan.fanout_rate, plan.concurrency)
            results.fanout = await metered("fanout", run)
            for line in results.fanout.fanout_lines(plan.every_socket):
                say(f"  {target.name} {line}")
            say(results.cpu["fanout"].line(len(paced)))
    finally:
        await session.close_sockets()
    return results, n
