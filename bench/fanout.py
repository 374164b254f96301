"""Benchmark: 200 agents' sockets connected while DMs arrive; how late is the last screen?

Starts Backchannel (bench/harness.py; ``--floor``: the minimal floor of bench/floor/ instead), then POSTs
``--rate`` signed deliveries a second for ``--seconds``, first with one agent's socket open, then with
``--sockets`` sockets open (on Backchannel each an agent of the inbox with a session of their own), and
prints each socket's p99 from POST to its ``message.created`` (deciles; ``--every-socket`` prints all),
the slowest socket's, the p99 of the first and last quarter of the run (a delay that grows) and the CPU
time per event of each part, counted by process id. ``bench/floor_compare.py --only fanout`` runs the same
measure on both stacks, interleaved.

    python bench/fanout.py [--sockets 200] [--rate 10] [--seconds 20] [--floor] [--every-socket]
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
from bench.floor import stack as floor_stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--floor", action="store_true", help="measure the minimal floor instead of Backchannel")
    parser.add_argument("--every-socket", action="store_true")
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    args = parser.parse_args()
    plan = measures.Plan(
        measures=("fanout",),
        fanout_rate=args.rate,
        seconds=args.seconds,
        sockets=args.sockets,
        every_socket=args.every_socket,
    )
    log_dir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    if args.floor:
        floor_stack.reset()
        running = stacks.floor(clients=args.sockets, log_dir=log_dir, web_workers=args.web_workers)
    else:
        cookies = stacks.prepare_agents(args.sockets)
        running = stacks.backchannel(
            cookies, log_dir=log_dir, web_workers=args.web_workers, celery_concurrency=args.celery_concurrency
        )
    with running as target:
        print(f"{target.name}: {target.description}; {os.cpu_count()} cores; {measures.load()}; logs in {log_dir}")
        results, _ = uvloop.run(measures.measure(target, plan, 0))
    if results.fanout and results.single:
        slowest, single = results.fanout.slowest_p99, results.single.p(99)
        print(f"slowest socket's p99 / one socket's p99: {slowest:.0f} / {single:.0f} ms = {slowest / single:.2f}×")
    print(measures.load())


if __name__ == "__main__":
    main()
