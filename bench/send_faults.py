"""Benchmark: exactly once in a busy conversation, with X failing sends and workers killed (issue 16).

Starts the X sandbox and ``--workers`` Celery worker processes (``-Q default,send``, ``--concurrency``
children each, in a process group of their own so ``kill -9`` takes the whole worker) on a benchmark
database of its own (``BENCH_FAULTS_DATABASE_URL``, default ``…/backchannel_bench_faults``, dropped and
migrated on each run) and Redis (``BENCH_FAULTS_REDIS_URL``, default ``redis://127.0.0.1:6379/6``). X's
rate limits (the sandbox's and ours) are raised out of the way; the sweeper runs in this process every
30 s, as beat does. The app's own settings are used otherwise: ``X_READ_TIMEOUT`` 20 s, the 45-s
visibility margin, the 160-s lease, the 60-s grace for lost tasks (``--read-timeout`` and ``--margin``
change the first two). Then:

1. ``--replies`` (1,000) replies queued at once in ONE conversation while X fails ``--fail-percent`` (20%)
   of the sends, all six kinds of fault drawn in turn, each on a whole percent of the sends (the sandbox
   takes no fractions: 4, 4, 4, 4, 3 and 3% make 20.1%): 429 (a 1-s reset), 500, 503, ``hang`` (X answers
   5 s after our client gave up, and does the work), ``reset`` (the connection dropped) and
   ``accept_then_fail`` (X does the work and answers 503);
2. ``--kill-replies`` (200) replies queued in another conversation at ``--rate`` (5) a second while a
   worker is killed with SIGKILL ``--kills`` (5) times, evenly spread: every other time while X is taking a
   POST (hung 5 s, finished at X after the worker is gone; every worker is killed then, as any may hold
   it), otherwise one worker at whatever moment; a new worker replaces each one killed.

Each prints duplicates and lost, counted from the customer's side of X (the customer's client reading the
conversation on the sandbox): both must be 0. Also what the app shows, the POST answers X gave, the
sweeps' findings and how long it took.

    python bench/send_faults.py [--replies 1000] [--fail-percent 20] [--kill-replies 200] [--kills 5] [--rate 5]
                                [--workers 4] [--concurrency 1] [--read-timeout 20] [--margin 45]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness  # noqa: E402
from bench.send import Sandbox, connect, conversation_of, environment, texts_at_x  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_FAULTS_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/backchannel_bench_faults"
)
REDIS_URL = os.environ.get("BENCH_FAULTS_REDIS_URL", "redis://127.0.0.1:6379/6")
WITH_PATH = "/2/dm_conversations/with/"
SEND_LINE = re.compile(r'"POST /2/dm_conversations/with/\S+/messages HTTP/[\d.]+" (\d{3}) ')
SWEEP_EVERY = 30.0  # beat's schedule for twitter_channel.replies_sweep
HANG_AFTER_GIVING_UP = 5.0
# The customer of each run, and what they wrote first.
QUESTIONS = {"maria_codes": "Where is my parcel?", "kenji_t": "Is my invoice ready?"}


@dataclass
class Workers:
    """The benchmark's worker processes: started, killed with SIGKILL, replaced, stopped."""

    env: dict[str, str]
    count: int
    concurrency: int
    folder: Path
    running: list[subprocess.Popen] = field(default_factory=list)
    started: int = 0

    def start(self) -> subprocess.Popen:
        name = f"bench-faults-{self.started}"
        self.started += 1
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,send", "--concurrency",
             str(self.concurrency), "-l", "WARNING", "--without-gossip", "--without-mingle", "-n", f"{name}@%h"],
            cwd=harness.ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.running.append(process)
        return process

    def start_all(self) -> None:
        for _ in range(self.count):
            self.start()

    def kill(self, process: subprocess.Popen) -> None:
        """``kill -9`` the worker and its pool's children: no shutdown, no acknowledgements."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(15)
        self.running.remove(process)

    def stop(self) -> None:
        for process in self.running:
            process.terminate()
        for process in self.running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.running.clear()


class Sweeper:
    """``reconcile.replies_sweep`` every ``SWEEP_EVERY`` seconds, as beat runs it, from this process."""

    def __init__(self) -> None:
        self.last = 0.0
        self.totals: Counter[str] = Counter()

    def maybe(self) -> None:
        from twitter_channel.outbound import reconcile

        if time.monotonic() - self.last < SWEEP_EVERY:
            return
        self.last = time.monotonic()
        result = reconcile.replies_sweep()
        self.totals.update({k: v for k, v in vars(result).items() if v})


def fault_percents(share: float, kinds: int) -> list[int]:
    """Whole percents (the sandbox takes no fractions) for ``kinds`` faults drawn in turn, so that together
    they fail at least ``share`` of the requests, as close to it as whole percents allow."""
    exact = 100 * (1 - (1 - share) ** (1 / kinds))
    percents = [math.floor(exact)] * kinds
    for n in range(kinds):
        if 1 - math.prod(1 - p / 100 for p in percents) >= share:
            break
        percents[n] = math.ceil(exact)
    return percents


def fault(sandbox: Sandbox, kind: str, **extra: Any) -> None:
    sandbox.control("POST", "faults", {"kind": kind, "method": "POST", "path": WITH_PATH, **extra})


def queue_replies(conversation: Any, agent: Any, prefix: str, count: int) -> list[str]:
    """``count`` replies queued at once; their texts (each its own token)."""
    from inbox.services.replies import reply_create

    texts = [f"{prefix} {n:04}" for n in range(count)]
    for text in texts:
        reply_create(conversation_id=conversation.pk, author=agent, text=text, client_token=text)
    return texts


def states(texts: list[str]) -> Counter[str]:
    from inbox.models import Message

    return Counter(Message.objects.filter(idempotency_key__in=texts).values_list("delivery_state", flat=True))


def wait_settled(texts: list[str], sweeper: Sweeper, timeout: float, until_sent: int | None = None) -> Counter[str]:
    """Sweep as beat would until every reply is sent or failed (or ``until_sent`` are sent); their states."""
    deadline, shown = time.monotonic() + timeout, time.monotonic()
    while time.monotonic() < deadline:
        sweeper.maybe()
        now = states(texts)
        if until_sent is not None and now["sent"] >= until_sent:
            return now
        if until_sent is None and now["sent"] + now["failed"] == len(texts):
            return now
        if time.monotonic() - shown > 15:
            shown = time.monotonic()
            print(f"  {dict(now)}", flush=True)
        time.sleep(0.5)
    raise SystemExit(f"Not settled within {timeout:.0f} s: {dict(states(texts))}")


def report(label: str, sandbox: Sandbox, customer: str, texts: list[str], settled: Counter[str], began: float) -> None:
    got = Counter(texts_at_x(sandbox, customer, "1500000000000000001"))
    duplicates = sum(n - 1 for text, n in got.items() if text in texts and n > 1)
    doubled = sum(1 for text in texts if got[text] > 1)
    lost = sum(1 for text in texts if got[text] == 0)
    print(f"{label}: {len(texts)} replies in one conversation, {time.monotonic() - began:.0f} s")
    print(f"  at the customer's, on X: {sum(got[t] for t in texts)} messages; duplicates {duplicates} "
          f"({doubled} replies more than once), lost {lost}")  # fmt: skip
    print(f"  in the app: {dict(settled)}")


def send_outcomes(sandbox: Sandbox) -> Counter[str]:
    """What became of the sends so far, from the sandbox's log: X's answers by status; ``hang``, answered
    after our client gave up ("Broken pipe", no request line); ``reset``, the connection dropped (Django's
    "Internal Server Error" line for the send path, beyond the 500s answered)."""
    lines = sandbox.log_path.read_text(errors="replace").splitlines()
    outcomes = Counter(match.group(1) for line in lines if (match := SEND_LINE.search(line)))
    outcomes["hang"] = sum(1 for line in lines if "Broken pipe" in line)
    errors = sum(1 for line in lines if line.startswith(f"Internal Server Error: {WITH_PATH}"))
    outcomes["reset"] = max(errors - outcomes["500"], 0)
    return outcomes


def run_faults(sandbox: Sandbox, account: Any, agent: Any, args: argparse.Namespace, read_timeout: float) -> None:
    from inbox.models import Message

    conversation = conversation_of(QUESTIONS["maria_codes"])
    kinds = [("429", {"seconds": 1}), ("500", {}), ("503", {}), ("hang", {"seconds": read_timeout + 5}),
             ("reset", {}), ("accept_then_fail", {})]  # fmt: skip
    percents = fault_percents(args.fail_percent / 100, len(kinds))
    for (kind, extra), percent in zip(kinds, percents, strict=True):
        fault(sandbox, kind, percent=percent, **extra)
    share = 1 - math.prod(1 - p / 100 for p in percents)
    sweeper, began = Sweeper(), time.monotonic()
    texts = queue_replies(conversation, agent, "Fault run reply", args.replies)
    each = ", ".join(f"{kind} {percent}%" for (kind, _), percent in zip(kinds, percents, strict=True))
    print(f"queued {len(texts)} replies; X fails {share:.1%} of the sends ({each}, drawn in turn)", flush=True)
    settled = wait_settled(texts, sweeper, timeout=args.timeout)
    sandbox.control("DELETE", "faults")
    report("faults", sandbox, "maria_codes", texts, settled, began)
    outcomes = send_outcomes(sandbox)
    sends, failed = sum(outcomes.values()), sum(outcomes.values()) - outcomes["201"]
    print(f"  the {sends} sends at X: {dict(sorted(outcomes.items()))}; {failed} failed ({failed / sends:.1%}; "
          "503 includes accept_then_fail)")  # fmt: skip
    print(f"  sweeps: {dict(sweeper.totals) or 'nothing to do'}")
    failed = Message.objects.filter(idempotency_key__in=texts, delivery_state="failed").values_list("error_detail")
    for (detail,) in failed[:3]:
        print(f"  failed: {detail}")


def run_kills(sandbox: Sandbox, workers: Workers, agent: Any, args: argparse.Namespace, read_timeout: float) -> None:
    from inbox.services.replies import reply_create

    conversation = conversation_of(QUESTIONS["kenji_t"])
    sweeper, began = Sweeper(), time.monotonic()
    texts = [f"Kill run reply {n:04}" for n in range(args.kill_replies)]
    kill_at = {len(texts) * (n + 1) // (args.kills + 1): n for n in range(args.kills)}
    print(f"queueing {len(texts)} replies at {args.rate:g}/s; a kill after every {len(texts) // (args.kills + 1)}")
    for queued, text in enumerate(texts, start=1):
        reply_create(conversation_id=conversation.pk, author=agent, text=text, client_token=text)
        sweeper.maybe()
        if queued in kill_at:
            _kill(sandbox, workers, kill_at[queued], min(HANG_AFTER_GIVING_UP, read_timeout / 2), texts)
        time.sleep(max(0.0, began + queued / args.rate - time.monotonic()))
    settled = wait_settled(texts, sweeper, timeout=args.timeout)
    report("kill -9", sandbox, "kenji_t", texts, settled, began)
    print(f"  sweeps: {dict(sweeper.totals) or 'nothing to do'}")


def _kill(sandbox: Sandbox, workers: Workers, n: int, hang: float, texts: list[str]) -> None:
    """Kill every worker while X takes a POST (even ``n``: any may hold it), else one at random; replace them."""
    during_post = n % 2 == 0
    if during_post:
        fault(sandbox, "hang", count=1, seconds=hang)
        deadline = time.monotonic() + 30
        while sandbox.control("GET", "faults") and time.monotonic() < deadline:
            time.sleep(0.02)
        sandbox.control("DELETE", "faults")  # if no POST came to take it
    victims = list(workers.running) if during_post else [random.choice(workers.running)]
    for victim in victims:
        workers.kill(victim)
        workers.start()
    what = "every worker, during a POST X is taking" if during_post else "one worker"
    print(f"  kill {n + 1}: {what}, at {dict(states(texts))}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--fail-percent", type=float, default=20.0, help="share of the sends X fails")
    parser.add_argument("--kill-replies", type=int, default=200)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--rate", type=float, default=5.0, help="replies queued per second in the kill run")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--read-timeout", type=float, default=None, help="X_READ_TIMEOUT (the app's default: 20)")
    parser.add_argument("--margin", type=float, default=None, help="X_SEND_VISIBILITY_MARGIN (default: 45)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds each run may take")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-send-faults-"))
    sandbox = Sandbox(folder)
    workers: Workers | None = None
    try:
        unlimited = [("dm_post", "user", [[900, 10**6]]), ("dm_post", "app", [[86400, 10**6]]),
                     ("dm_get", "user", [[900, 10**6]])]  # fmt: skip
        for endpoint, scope, windows in unlimited:
            sandbox.control("POST", "rate-limits", {"endpoint": endpoint, "scope": scope, "windows": windows})
        env = environment(sandbox, margin=2.0)
        env = {**env, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "X_DM_LIMITS_APP": "86400:1000000",
               "X_REPLY_UNDO_SECONDS": "0"}  # fmt: skip
        for name, value in (("X_READ_TIMEOUT", args.read_timeout), ("X_SEND_VISIBILITY_MARGIN", args.margin)):
            if value is not None:
                env[name] = str(value)
        harness.recreate_database(env)
        harness.django_setup(env)
        from django.conf import settings

        workers = Workers(env=env, count=args.workers, concurrency=args.concurrency, folder=folder)
        workers.start_all()
        database = DATABASE_URL.rsplit("/", 1)[-1]
        print(f"sandbox {sandbox.base_url}, {args.workers} workers × {args.concurrency}, X_READ_TIMEOUT "
              f"{settings.X_READ_TIMEOUT:g} s, X_SEND_VISIBILITY_MARGIN {settings.X_SEND_VISIBILITY_MARGIN:g} s, "
              f"PostgreSQL {database}, Redis {REDIS_URL}; logs in {folder}", flush=True)  # fmt: skip
        for customer, question in QUESTIONS.items():  # before connecting: the workers' backfill brings them in
            sandbox.control("POST", f"users/{customer}/messages", {"to": "AcmeSupport", "text": question})
        account, agent = connect(sandbox, "AcmeSupport", "900:1000000,86400:1000000")
        run_faults(sandbox, account, agent, args, settings.X_READ_TIMEOUT)
        run_kills(sandbox, workers, agent, args, settings.X_READ_TIMEOUT)
    finally:
        if workers is not None:
            workers.stop()
        sandbox.process.terminate()
        sandbox.process.wait(20)


if __name__ == "__main__":
    main()
