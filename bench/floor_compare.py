"""Benchmark: Backchannel against the minimal floor (``bench/floor/``), interleaved, same load generator.

Each pair runs Backchannel, then the floor, each started afresh, with the same measures
(``bench/measures.py``) and the same requests:

- ingest: ``--deliveries`` signed deliveries over ``--concurrency`` connections, as fast as they go:
  sustained events/s at one socket, and the ratio Backchannel / floor;
- latency: ``--rate`` deliveries a second for ``--seconds``: POST → websocket p50 / p99 at one socket;
- fan-out: ``--fanout-rate`` deliveries a second for ``--seconds`` with one socket, then with ``--sockets``
  sockets (on Backchannel each an agent of the inbox with a session of their own; on the floor plain
  clients): every socket's p99 (deciles), the slowest socket's, and slowest / single.

After each measure it prints the CPU time per event of each part, counted by process id (``bench/cpu.py``),
the load generator's own included. It prints the machine's load at each pair, then per pair and as the
median over the pairs (with the range) each figure and its ratio. The machine's other jobs show in the
load and in "the machine N% busy": figures from a busy machine are not comparable with a quiet one's.

    python bench/floor_compare.py [--pairs 3] [--only ingest|latency|fanout ...] [--seconds 20]
        [--deliveries 3000] [--concurrency 16] [--rate 50] [--fanout-rate 10] [--sockets 200]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness, measures, stacks  # noqa: E402
from bench.floor import stack as floor_stack  # noqa: E402
from bench.measures import Plan, Results  # noqa: E402

# (label, unit, the figure of a run; None when the run did not measure it)
Figure = tuple[str, str, Callable[[Results], float | None]]


def figures(plan: Plan) -> list[Figure]:
    fanout = f"{plan.sockets} sockets at {plan.fanout_rate:g} ev/s"
    return [
        (
            f"sustained ingest, {plan.deliveries} over {plan.concurrency}",
            "ev/s",
            lambda r: _get(r.ingest, "per_second"),
        ),
        (f"POST → websocket p50 at {plan.rate:g} ev/s", "ms", lambda r: r.latency.p(50) if r.latency else None),
        (f"POST → websocket p99 at {plan.rate:g} ev/s", "ms", lambda r: r.latency.p(99) if r.latency else None),
        (f"one socket's p99 at {plan.fanout_rate:g} ev/s", "ms", lambda r: r.single.p(99) if r.single else None),
        (f"{fanout}: median socket's p99", "ms", lambda r: _median_p99(r)),
        (f"{fanout}: slowest socket's p99", "ms", lambda r: r.fanout.slowest_p99 if r.fanout else None),
        ("slowest socket's p99 / one socket's", "×", _slowest_over_single),
    ]


def _get(value: object, name: str) -> float | None:
    return getattr(value, name) if value is not None else None


def _median_p99(results: Results) -> float | None:
    return statistics.median(results.fanout.socket_p99s) if results.fanout else None


def _slowest_over_single(results: Results) -> float | None:
    if results.fanout is None or results.single is None or not results.single.p(99):
        return None
    return results.fanout.slowest_p99 / results.single.p(99)


def number(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "lost"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def ratio(b: float | None, f: float | None) -> float | None:
    if b is None or f is None or not f or math.isinf(b) or math.isinf(f):
        return None
    return b / f


def pair_lines(plan: Plan, index: int, backchannel: Results, floor: Results) -> list[str]:
    lines = [f"pair {index}: Backchannel / floor / ratio"]
    for label, unit, figure in figures(plan):
        b, f = figure(backchannel), figure(floor)
        if b is None and f is None:
            continue
        lines.append(f"  {label}: {number(b, unit)} / {number(f, unit)} / {number(ratio(b, f), '×')}")
    return lines


def spread(values: list[float], unit: str) -> str:
    """The median, and the range when there is more than one value."""
    if not values:
        return "-"
    middle = number(statistics.median(values), unit)
    return f"{middle} ({number(min(values), unit)}–{number(max(values), unit)})" if len(values) > 1 else middle


def median_lines(plan: Plan, pairs: list[tuple[Results, Results]], loads: list[str]) -> list[str]:
    lines = [
        f"median of {len(pairs)} pairs (range):",
        f"  {'':46} {'Backchannel':>22} {'floor':>22} {'ratio B/F':>22}",
    ]
    for label, unit, figure in figures(plan):
        b = [v for v in (figure(p[0]) for p in pairs) if v is not None]
        f = [v for v in (figure(p[1]) for p in pairs) if v is not None]
        r = [v for v in (ratio(figure(p[0]), figure(p[1])) for p in pairs) if v is not None]
        if b or f:
            name = f"{label} ({unit})" if unit != "×" else label
            lines.append(f"  {name:46} {spread(b, unit):>22} {spread(f, unit):>22} {spread(r, '×'):>22}")
    lines.append("  machine load at each pair: " + "; ".join(loads))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=measures.MEASURES, default=list(measures.MEASURES))
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--fanout-rate", type=float, default=10)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20, help="length of each paced run")
    parser.add_argument("--every-socket", action="store_true", help="print every socket's p99, not deciles")
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    args = parser.parse_args()
    plan = Plan(
        measures=tuple(args.only),
        deliveries=args.deliveries,
        concurrency=args.concurrency,
        rate=args.rate,
        seconds=args.seconds,
        fanout_rate=args.fanout_rate,
        sockets=args.sockets,
        every_socket=args.every_socket,
    )
    agents = args.sockets if "fanout" in plan.measures else 1
    log_dir = Path(tempfile.mkdtemp(prefix="bench-floor-compare-"))
    print(f"preparing: Backchannel's database with {agents} agent(s), the floor's tables; logs in {log_dir}")
    cookies = stacks.prepare_agents(agents)
    floor_stack.reset()
    print(f"{os.cpu_count()} cores; measures {', '.join(plan.measures)}; {args.pairs} pairs; {measures.load()}")

    pairs: list[tuple[Results, Results]] = []
    loads: list[str] = []
    first = {"Backchannel": 0, "floor": 0}
    for index in range(1, args.pairs + 1):
        loads.append(measures.load())
        print(f"\npair {index} of {args.pairs} ({loads[-1]})")
        run_logs = log_dir / f"pair-{index}"
        with stacks.backchannel(
            cookies,
            log_dir=run_logs / "backchannel",
            web_workers=args.web_workers,
            celery_concurrency=args.celery_concurrency,
        ) as target:
            print(f" Backchannel: {target.description} ({measures.load()})")
            backchannel, first["Backchannel"] = uvloop.run(measures.measure(target, plan, first["Backchannel"]))
        with stacks.floor(clients=args.sockets, log_dir=run_logs / "floor", web_workers=args.web_workers) as target:
            print(f" floor: {target.description} ({measures.load()})")
            floor, first["floor"] = uvloop.run(measures.measure(target, plan, first["floor"]))
        pairs.append((backchannel, floor))
        print("\n".join(pair_lines(plan, index, backchannel, floor)))
    print()
    print("\n".join(median_lines(plan, pairs, loads)))
    print(
        f"Backchannel's Redis {harness.BENCH_REDIS_URL}, the floor's {floor_stack.FLOOR_REDIS_URL}; {measures.load()}"
    )


if __name__ == "__main__":
    main()
