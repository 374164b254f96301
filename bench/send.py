"""Benchmark: agents' replies sent to X within its DM rate limit by 4 Celery workers, through the sandbox.

Starts the X sandbox (a database of its own, its request log kept) and ``--workers`` Celery worker processes
(``celery -A config worker -Q default,send --concurrency 1``) on a benchmark database of their own, sets the
sandbox's DM-send limit to ``--limit`` per ``--window`` seconds per account and ours the same (the account's
``dm_limits``), then:

1. queues ``--replies`` replies at once through ``reply_create`` and waits until all are sent; prints the
   budget utilisation, limit violations (429s the sandbox answered to DM POSTs: must be 0) and duplicates
   (replies the customer got more than once, or never: must be 0);
2. on a second account (a fresh budget), queues ``--under`` replies (fewer than the limit) at ``--rate``
   per second and prints the median queued → sent time (reply row created → X accepted it).

Utilisation = sends / (limit × elapsed / window), with ``elapsed`` from the first send to the end of X's last
window: X's windows are fixed, each starting at the first request after the previous one ended, so every
window's budget counts whole and the time between windows counts as budget left unused. Times are X's (the
sandbox's event ids are snowflakes carrying its milliseconds).

    python bench/send.py [--replies 500] [--limit 100] [--window 60] [--under 50] [--rate 5] [--margin 2]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_SEND_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/backchannel_bench_send"
)
REDIS_URL = os.environ.get("BENCH_SEND_REDIS_URL", "redis://127.0.0.1:6379/5")
TWITTER_EPOCH_MS = 1288834974657
REFUSED = re.compile(r'"POST /2/dm_conversations/\S+/messages HTTP/[\d.]+" 429 ')


class Sandbox:
    """The X sandbox as a process of its own, logging every request (``X_SANDBOX_LOG_LEVEL=INFO``)."""

    def __init__(self, folder: Path) -> None:
        self.log_path = folder / "sandbox.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "twitter_channel.sandbox", "--port", "0", "--db",
                 str(folder / "sandbox.sqlite3"), "--reset"],
                cwd=harness.ROOT, env={**os.environ, "X_SANDBOX_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"},
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (found := re.search(r"listening on (http://\S+)", self.log_path.read_text(errors="replace"))):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"The sandbox did not start; see {self.log_path}")
            time.sleep(0.05)
        self.base_url = found.group(1)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.base_url}/sandbox/api/{path}", json=body, timeout=10)
        if response.status_code >= 300:
            raise SystemExit(f"sandbox {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def refused(self) -> tuple[int, int]:
        """429s the sandbox answered, from its request log: to DM POSTs, and to any request."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return sum(1 for line in lines if REFUSED.search(line)), sum(1 for line in lines if '" 429 ' in line)


def environment(sandbox: Sandbox, margin: float) -> dict[str, str]:
    app = sandbox.control("GET", "app")
    return {
        **harness.bench_env(database_url=DATABASE_URL, redis_url=REDIS_URL),
        "X_API_BASE_URL": sandbox.base_url,
        "X_AUTHORIZE_URL": f"{sandbox.base_url}/i/oauth2/authorize",
        "X_CLIENT_ID": app["client_id"],
        "X_CLIENT_SECRET": app["client_secret"],
        "X_DM_LIMIT_MARGIN": str(margin),
    }


def start_workers(env: dict[str, str], count: int, log_dir: Path) -> list[subprocess.Popen]:
    workers = []
    for n in range(count):
        log = (log_dir / f"worker-{n}.log").open("wb")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,send", "--concurrency", "1",
             "-l", "WARNING", "--without-gossip", "--without-mingle", "-n", f"bench-send-{n}@%h"],
            cwd=harness.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
    return workers


def connect(sandbox: Sandbox, username: str, dm_limits: str) -> Any:
    """Connect sandbox user ``username`` as an inbox with ``dm_limits``; an agent of it. Returns (account, agent)."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from accounts.services import user_create
    from inbox.services.inboxes import inbox_member_add
    from twitter_channel.connection import services as connection
    from twitter_channel.x import oauth
    from twitter_channel.x.client import StaticUserAuth, XClient

    issued = sandbox.control("POST", "tokens", {"user": username})
    tokens = oauth.TokenSet(access_token=issued["access_token"], refresh_token=issued["refresh_token"],
                            expires_at=timezone.now() + timedelta(seconds=issued["expires_in"]),
                            scopes=tuple(issued["scope"].split()))  # fmt: skip
    profile = XClient(user_auth=StaticUserAuth(tokens.access_token)).me().user
    account = connection.account_connect(tokens=tokens, profile=profile, by=None)  # the workers backfill it
    account.dm_limits = dm_limits
    account.save(update_fields=["dm_limits"])
    agent = user_create(email=f"{username.lower()}@bench.test", password="bench-password-1", name=username,
                        role=User.Role.AGENT)  # fmt: skip
    inbox_member_add(inbox=account.inbox, user=agent)
    return account, agent


def conversation_of(text: str, timeout: float = 60) -> Any:
    from inbox.models import Message

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        question = Message.objects.filter(text=text).select_related("conversation").first()
        if question is not None:
            return question.conversation
        time.sleep(0.2)
    raise SystemExit(f"The workers' backfill never brought in {text!r}; see the worker logs.")


def wait_sent(agent: Any, count: int, timeout: float) -> None:
    from inbox.models import Message

    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        states = Counter(Message.objects.filter(sender_agent=agent).values_list("delivery_state", flat=True))
        if states.get("sent", 0) == count:
            return
        if states.get("failed"):
            failed = Message.objects.filter(sender_agent=agent, delivery_state="failed").first()
            raise SystemExit(f"{states['failed']} replies failed, e.g.: {failed.error_detail}")
        if states.get("sent", 0) // 50 != last:
            last = states.get("sent", 0) // 50
            print(f"  {dict(states)}", flush=True)
        time.sleep(0.5)
    raise SystemExit(f"Not all replies were sent within {timeout:.0f} s.")


def x_ms(event_id: str) -> int:
    return (int(event_id) >> 22) + TWITTER_EPOCH_MS


def texts_at_x(sandbox: Sandbox, customer: str, business_id: str) -> list[str]:
    from twitter_channel.x.client import StaticUserAuth, XClient

    client = XClient(user_auth=StaticUserAuth(sandbox.control("POST", "tokens", {"user": customer})["access_token"]))
    pages = client.participant_events_pages(business_id, event_types=["MessageCreate"], max_results=100)
    return [e.text for page in pages for e in page.events if e.sender_id == business_id]


def run_over_budget(sandbox: Sandbox, args: argparse.Namespace) -> None:
    from inbox.models import Message
    from inbox.services.replies import reply_create

    sandbox.control("POST", "users/maria_codes/messages", {"to": "AcmeSupport", "text": "Where is my parcel?"})
    account, agent = connect(sandbox, "AcmeSupport", f"{args.window}:{args.limit}")
    conversation = conversation_of("Where is my parcel?")
    texts = [f"Bench reply {n}" for n in range(args.replies)]
    queued = time.monotonic()
    for text in texts:
        reply_create(conversation_id=conversation.pk, author=agent, text=text, client_token=text)
    print(f"queued {args.replies} replies in {time.monotonic() - queued:.1f} s", flush=True)
    windows_needed = -(-args.replies // args.limit)
    wait_sent(agent, args.replies, timeout=windows_needed * (args.window + args.margin + 5) + 120)

    ids = list(Message.objects.filter(sender_agent=agent).values_list("x_event_id", flat=True))
    at = sorted(x_ms(i) for i in ids)
    starts = [at[0]]
    for moment in at:
        if moment >= starts[-1] + args.window * 1000:
            starts.append(moment)
    per_window = [sum(1 for m in at if s <= m < s + args.window * 1000) for s in starts]
    elapsed = (starts[-1] - at[0]) / 1000 + args.window
    utilisation = args.replies / (args.limit * elapsed / args.window)
    tightest = min((at[i + args.limit] - at[i] for i in range(len(at) - args.limit)), default=None)
    got = Counter(texts_at_x(sandbox, "maria_codes", account.inbox.x_user_id))
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    missing = sum(1 for text in texts if got[text] == 0)
    counters = sandbox.control("GET", "counters")["rate_windows"]
    posts_refused, all_refused = sandbox.refused()
    highest = max((w["count"] for w in counters if w["key"].startswith("user:dm_post:")), default=0)
    print(
        f"over budget: {args.replies} replies, {args.workers} workers, {args.limit} per {args.window} s, "
        f"margin {args.margin:g} s"
    )
    # what the margin alone leaves: each window but the last is followed by `margin` seconds of no sends
    ceiling = len(starts) * args.window / ((len(starts) - 1) * (args.window + args.margin) + args.window)
    print(
        f"  X's windows: {len(starts)} ({per_window} sends), {elapsed:.1f} s from the first send to the end of "
        f"the last; utilisation {utilisation:.1%} (the margin alone allows {ceiling:.1%})"
    )
    print(
        f"  limit violations (429s answered to DM POSTs): {posts_refused} ({all_refused} to any request); the "
        f"sandbox's fullest window "
        f"{highest} of {args.limit}; the closest {args.limit + 1} sends "
        f"{'n/a' if tightest is None else f'{tightest / 1000:.2f} s'} apart (window {args.window} s)"
    )
    print(f"  duplicates: {duplicates}; never sent: {missing}; distinct X event ids: {len(set(ids))} of {len(ids)}")


def run_under_budget(sandbox: Sandbox, args: argparse.Namespace) -> None:
    from inbox.models import Message
    from inbox.services.replies import reply_create

    sandbox.control("POST", "users", {"username": "AcmeBilling", "name": "Acme Billing", "is_business": True})
    sandbox.control("POST", "users/kenji_t/messages", {"to": "AcmeBilling", "text": "Is my invoice ready?"})
    account, agent = connect(sandbox, "AcmeBilling", f"{args.window}:{args.limit}")
    conversation = conversation_of("Is my invoice ready?")
    begin = time.monotonic()
    for n in range(args.under):
        delay = begin + n / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        reply_create(conversation_id=conversation.pk, author=agent, text=f"Invoice {n}", client_token=f"u{n}")
    wait_sent(agent, args.under, timeout=120)
    rows = Message.objects.filter(sender_agent=agent).values_list("created_at", "x_event_id")
    waits = [x_ms(event_id) - created.timestamp() * 1000 for created, event_id in rows]
    print(
        f"under budget: {args.under} replies at {args.rate:g}/s (limit {args.limit} per {args.window} s), undo "
        f"window {args.undo} s: queued → sent median {statistics.median(waits):.0f} ms, "
        f"p90 {statistics.quantiles(waits, n=10)[-1]:.0f} ms, max {max(waits):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=500)
    parser.add_argument("--limit", type=int, default=100, help="DMs per window per account, X's and ours")
    parser.add_argument("--window", type=int, default=60, help="seconds")
    parser.add_argument("--margin", type=float, default=2.0, help="X_DM_LIMIT_MARGIN, seconds")
    parser.add_argument("--under", type=int, default=50, help="replies of the under-budget run")
    parser.add_argument("--rate", type=float, default=5.0, help="replies per second in the under-budget run")
    parser.add_argument("--undo", type=int, default=0, help="X_REPLY_UNDO_SECONDS (the app's default is 5)")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if args.under >= args.limit:
        parser.error("--under must be below --limit: that run measures replies sent while under budget")

    folder = Path(tempfile.mkdtemp(prefix="bench-send-"))
    sandbox = Sandbox(folder)
    workers: list[subprocess.Popen] = []
    try:
        for scope, windows in (("user", [[args.window, args.limit]]), ("app", [[86400, 15000]])):
            sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": scope, "windows": windows})
        env = {**environment(sandbox, args.margin), "X_REPLY_UNDO_SECONDS": str(args.undo)}
        harness.recreate_database(env)
        harness.django_setup(env)
        workers = start_workers(env, args.workers, folder)
        print(f"sandbox {sandbox.base_url}, {args.workers} workers, PostgreSQL {DATABASE_URL.rsplit('/', 1)[-1]}, "
              f"Redis {REDIS_URL}; logs in {folder}", flush=True)  # fmt: skip
        run_over_budget(sandbox, args)
        run_under_budget(sandbox, args)
    finally:
        for process in [*workers, sandbox.process]:
            process.terminate()
        for process in [*workers, sandbox.process]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
