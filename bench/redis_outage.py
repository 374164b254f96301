"""Benchmark: X keeps POSTing DMs while Redis is stopped, then while it is frozen.

Starts uvicorn and a Celery worker (bench/harness.py) on a database of its own
(``BENCH_OUTAGE_DATABASE_URL``, default ``postgres://postgres:postgres@127.0.0.1:5432/backchannel_bench_outage``)
and a ``redis-server`` of its own on a free port, the only Redis this benchmark touches. Then, for each kind
of trouble, it POSTs signed deliveries at ``--rate`` per second: ``--before`` seconds with Redis up, ``--outage``
seconds with Redis stopped (or frozen with SIGSTOP), and ``--after`` seconds once it is back; nothing is
restarted by hand. It prints:

- how long the webhook took to answer the POSTs made during the outage (max and p99; target: every one
  within 1 s) and how many were not answered 200;
- lost and doubled: deliveries whose DM is not stored, or stored twice (targets: 0 and 0);
- catch-up: seconds from Redis answering again to the last DM POSTed before that being stored (target:
  within 10 s);
- whether the web and worker processes are the ones that started (nobody restarted them).

    python bench/redis_outage.py [--rate 20] [--before 10] [--outage 30] [--after 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness  # noqa: E402
from bench.ingest import Connection, event_id, percentile, prepare, signed_request  # noqa: E402

CATCH_UP_DEADLINE = 120
DATABASE_URL = os.environ.get(
    "BENCH_OUTAGE_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/backchannel_bench_outage"
)


@dataclass
class Posted:
    n: int
    started: float
    answered: float = 0.0
    status: int = 0


@dataclass
class Trouble:
    kind: str
    broken_at: float = 0.0
    back_at: float = 0.0
    caught_up_at: float | None = None
    posts: list[Posted] = field(default_factory=list)


async def stream(base_url: str, first: int, count: int, rate: float, trouble: Trouble, server: harness.RedisServer,
                 break_after: float, restore_after: float) -> None:  # fmt: skip
    """POST ``count`` deliveries at ``rate`` per second; break Redis ``break_after`` s in, restore it later."""
    host, port = base_url.removeprefix("http://").split(":")
    requests = {n: signed_request(n, f"{host}:{port}") for n in range(first, first + count)}
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(8):
        free.put_nowait(await Connection.open(host, int(port)))
    begin = time.perf_counter()

    async def paced(i: int, n: int) -> None:
        await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
        posted = Posted(n=n, started=time.perf_counter())
        trouble.posts.append(posted)
        connection = await free.get()
        try:
            posted.status, _ = await connection.exchange(requests[n])
        except (OSError, asyncio.IncompleteReadError):
            connection = await Connection.open(host, int(port))  # the server closed it: a fresh one
        finally:
            posted.answered = time.perf_counter()
            free.put_nowait(connection)

    async def break_and_restore() -> None:
        await asyncio.sleep(break_after)
        trouble.broken_at = time.perf_counter()
        await asyncio.to_thread(server.stop if trouble.kind == "stopped" else server.freeze)
        await asyncio.sleep(max(0.0, restore_after - (time.perf_counter() - begin)))
        await asyncio.to_thread(server.start if trouble.kind == "stopped" else server.thaw)
        trouble.back_at = time.perf_counter()
        waiting = [event_id(p.n) for p in trouble.posts]  # everything POSTed before Redis was back
        while time.perf_counter() - trouble.back_at < CATCH_UP_DEADLINE:
            if len(await asyncio.to_thread(stored, waiting)) == len(waiting):
                trouble.caught_up_at = time.perf_counter()
                return
            await asyncio.sleep(0.05)

    await asyncio.gather(break_and_restore(), *(paced(i, n) for i, n in enumerate(requests)))


def stored(ids: list[str]) -> dict[str, int]:
    from django.db.models import Count

    from inbox.models import Message

    rows = Message.objects.filter(x_event_id__in=ids).values("x_event_id").annotate(n=Count("id"))
    return {row["x_event_id"]: row["n"] for row in rows}


def report(trouble: Trouble, args: argparse.Namespace) -> str:
    during = [p for p in trouble.posts if trouble.broken_at <= p.started < trouble.back_at]
    answer_ms = [(p.answered - p.started) * 1000 for p in during]
    not_200 = sum(1 for p in trouble.posts if p.status != 200)
    ids = [event_id(p.n) for p in trouble.posts]
    counts = stored(ids)
    lost = sum(1 for i in ids if i not in counts)
    doubled = sum(1 for n in counts.values() if n > 1)
    caught_up = trouble.caught_up_at
    catch_up = f"{caught_up - trouble.back_at:.1f} s" if caught_up else f"NOT within {CATCH_UP_DEADLINE} s"
    return (
        f"Redis {trouble.kind} for {trouble.back_at - trouble.broken_at:.1f} s during {len(trouble.posts)} POSTs "
        f"at {args.rate:g}/s: the {len(during)} POSTed during the outage answered in max "
        f"{max(answer_ms):.0f} ms, p99 {percentile(answer_ms, 99):.0f} ms, "
        f"median {statistics.median(answer_ms):.0f} ms; "
        f"{not_200} not answered 200; lost {lost}, doubled {doubled}; caught up {catch_up} after Redis returned"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--before", type=float, default=10)
    parser.add_argument("--outage", type=float, default=30)
    parser.add_argument("--after", type=float, default=20)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-redis-outage-"))
    server = harness.RedisServer(port=harness.free_port(), folder=folder)
    server.start()
    env = harness.bench_env(database_url=DATABASE_URL, redis_url=server.url)
    try:
        harness.recreate_database(env)
        prepare(env)
        with harness.running_stack(log_dir=folder, env=env) as stack:
            pids = [p.pid for p in stack.processes]
            print(f"stack: uvicorn, celery worker (concurrency 2), Redis on port {server.port}; logs in {folder}")
            first = 0
            count = int(args.rate * (args.before + args.outage + args.after))
            for kind in ("stopped", "frozen"):
                trouble = Trouble(kind)
                uvloop.run(stream(stack.base_url, first, count, args.rate, trouble, server,
                                  args.before, args.before + args.outage))  # fmt: skip
                time.sleep(5)  # the last POSTs' DMs
                print(report(trouble, args))
                first += count
            alive = all(p.poll() is None for p in stack.processes) and [p.pid for p in stack.processes] == pids
            print(f"web and worker still the processes that started: {'yes' if alive else 'NO'}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
