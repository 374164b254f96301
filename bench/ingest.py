"""Benchmark: signed webhook deliveries in, live events out.

Starts uvicorn and a Celery worker on PostgreSQL and Redis (bench/harness.py), connects one agent's
websocket, then POSTs signed Account Activity deliveries (one DM each, from many customers) to
``/twitter/webhook/`` and times each from the start of its POST to the moment the agent's websocket
receives its ``message.created``. Two runs, after 100 deliveries to warm up:

1. throughput: ``--deliveries`` POSTs over ``--concurrency`` keep-alive connections, as fast as they go;
   prints sustained events/s (events received over the time from the first POST to the last receipt);
2. latency: ``--rate`` deliveries per second for ``--seconds``; prints p50 / p99 / max.

After each run it prints the CPU time each part of the stack used per event, counted by process id
(bench/cpu.py: the uvicorn and Celery processes it started with their children, the PostgreSQL backends
of the bench database), and the load generator's own: on a two-core machine everything shares the cores.

The load generator (bench/loadgen.py) is lean on purpose (asyncio on uvloop, HTTP/1.1 and websockets
written by hand, bodies signed before the clock starts). ``bench/floor_compare.py`` runs the same
measures side by side with a minimal reference implementation.

    python bench/ingest.py [--deliveries 3000] [--concurrency 16] [--rate 50] [--seconds 20]

Targets on a 2-core machine: >= 300 events/s sustained; p99 <= 100 ms at 50 events/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import measures, stacks  # noqa: E402

# What bench/replay.py, bench/presence.py and bench/redis_outage.py take from here.
from bench.harness import BUSINESS_ID  # noqa: E402, F401
from bench.loadgen import (  # noqa: E402, F401
    WEBHOOK_PATH,
    Connection,
    delivery,
    event_id,
    percentile,
    signed_post,
    signed_request,
)
from bench.stacks import prepare  # noqa: E402, F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    args = parser.parse_args()
    plan = measures.Plan(
        measures=("ingest", "latency"),
        deliveries=args.deliveries,
        concurrency=args.concurrency,
        rate=args.rate,
        seconds=args.seconds,
    )

    cookies = stacks.prepare_agents(1)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    with stacks.backchannel(
        cookies, log_dir=log_dir, web_workers=args.web_workers, celery_concurrency=args.celery_concurrency
    ) as target:
        print(f"stack: {target.description}; {os.cpu_count()} cores; {measures.load()}; logs in {log_dir}")
        uvloop.run(measures.measure(target, plan, 0))
    print(measures.load())


if __name__ == "__main__":
    main()
