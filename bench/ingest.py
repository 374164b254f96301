"""Benchmark: signed webhook deliveries in, live events out.

Starts uvicorn and a Celery worker on PostgreSQL and Redis (bench/harness.py), connects one agent's
websocket, then POSTs signed Account Activity deliveries (one DM each, from many customers) to
``/twitter/webhook/`` and times each from the start of its POST to the moment the agent's websocket
receives its ``message.created``. Two runs:

1. throughput: ``--deliveries`` POSTs at ``--concurrency``, as fast as they go; prints sustained events/s
   (events received over the time from the first POST to the last receipt);
2. latency: ``--rate`` deliveries per second for ``--seconds``; prints p50 / p99 / max.

    python bench/ingest.py [--deliveries 3000] [--concurrency 16] [--rate 50] [--seconds 20]

Targets on a 2-core machine: >= 300 events/s sustained; p99 <= 100 ms at 50 events/s.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness  # noqa: E402

BUSINESS_ID = "1500000000000000001"
CUSTOMERS = 500
FIRST_EVENT_ID = 1_870_000_000_000_000_000


def prepare() -> str:
    """A connected inbox and an agent who is a member; return the agent's session cookie value."""
    harness.django_setup()
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


def delivery(n: int) -> bytes:
    customer = str(3_000_000_000 + n % CUSTOMERS)
    created_ms = 1_790_000_000_000 + n * 10
    body = {
        "for_user_id": BUSINESS_ID,
        "direct_message_events": [{
            "type": "message_create", "id": str(FIRST_EVENT_ID + n * 4096), "created_timestamp": str(created_ms),
            "message_create": {"target": {"recipient_id": BUSINESS_ID}, "sender_id": customer,
                               "message_data": {"text": f"bench message {n}", "entities": {}}},
        }],
        "users": {customer: {"id": customer, "name": f"Customer {customer}", "screen_name": f"c{customer}"}},
    }  # fmt: skip
    return json.dumps(body).encode()


def sign(body: bytes) -> str:
    digest = hmac.new(harness.CONSUMER_SECRET.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


class Receiver(threading.Thread):
    """The agent's websocket: records when each X event id arrives."""

    def __init__(self, ws_url: str, cookie: str) -> None:
        super().__init__(daemon=True)
        self.arrived: dict[str, float] = {}
        self.ready = threading.Event()
        self.socket = connect(
            ws_url, additional_headers={"Cookie": f"sessionid={cookie}", "Origin": "http://127.0.0.1"}
        )

    def run(self) -> None:
        self.ready.set()
        for frame in self.socket:
            message = json.loads(frame)
            if message.get("event") == "message.created":
                self.arrived[message["data"]["x_event_id"]] = time.perf_counter()

    def wait_for(self, event_ids: list[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(e in self.arrived for e in event_ids):
                return True
            time.sleep(0.01)
        return False


_local = threading.local()


answered_ms: list[float] = []  # how long each POST waited for its 200


def post(url: str, n: int) -> tuple[str, float]:
    session = getattr(_local, "session", None) or requests.Session()
    _local.session = session
    body = delivery(n)
    started = time.perf_counter()
    headers = {"Content-Type": "application/json", "x-twitter-webhooks-signature": sign(body)}
    response = session.post(url, data=body, headers=headers, timeout=30)
    answered_ms.append((time.perf_counter() - started) * 1000)
    if response.status_code != 200:
        raise SystemExit(f"delivery {n}: {response.status_code} {response.text[:200]}")
    return str(FIRST_EVENT_ID + n * 4096), started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def throughput(url: str, receiver: Receiver, first: int, count: int, concurrency: int) -> None:
    with ThreadPoolExecutor(concurrency) as pool:
        sent = list(pool.map(lambda n: post(url, n), range(first, first + count)))
    posted = time.perf_counter()
    ids = [event_id for event_id, _ in sent]
    if not receiver.wait_for(ids, timeout=300):
        missing = sum(1 for e in ids if e not in receiver.arrived)
        raise SystemExit(f"{missing} of {count} events never reached the websocket")
    start = min(started for _, started in sent)
    end = max(receiver.arrived[e] for e in ids)
    latencies = [(receiver.arrived[e] - s) * 1000 for e, s in sent]
    rate = count / (end - start)
    print(
        f"throughput: {count} deliveries at concurrency {concurrency}: {rate:.0f} events/s sustained "
        f"(p50 {percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms under that load); "
        f"the webhook accepted {count / (posted - start):.0f} deliveries/s"
    )


def latency(url: str, receiver: Receiver, first: int, rate: float, seconds: float) -> None:
    count = int(rate * seconds)
    sent: list[tuple[str, float]] = []
    lock = threading.Lock()
    begin = time.perf_counter()

    def paced(i: int) -> None:
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        result = post(url, first + i)
        with lock:
            sent.append(result)

    answered_ms.clear()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(paced, range(count)))
    ids = [e for e, _ in sent]
    if not receiver.wait_for(ids, timeout=120):
        raise SystemExit("some paced events never reached the websocket")
    latencies = [(receiver.arrived[e] - s) * 1000 for e, s in sent]
    print(f"latency at {rate:.0f} events/s for {seconds:.0f} s ({count} events): "
          f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
          f"max {max(latencies):.1f} ms; the webhook answered in p50 {statistics.median(answered_ms):.1f} ms, "
          f"p99 {percentile(answered_ms, 99):.1f} ms")  # fmt: skip


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
        url = stack.base_url + "/twitter/webhook/"
        receiver = Receiver(stack.base_url.replace("http", "ws") + "/ws/inbox/", cookie)
        receiver.start()
        receiver.ready.wait(10)
        warm = [post(url, n)[0] for n in range(50)]
        if not receiver.wait_for(warm, timeout=60):
            raise SystemExit(f"warm-up events never reached the websocket; logs in {log_dir}")
        database = harness.BENCH_DATABASE_URL.rsplit("/", 1)[-1]
        print(
            f"stack: uvicorn x{args.web_workers}, celery concurrency {args.celery_concurrency}, "
            f"PostgreSQL {database}, Redis {harness.BENCH_REDIS_URL}"
        )
        throughput(url, receiver, 100, args.deliveries, args.concurrency)
        latency(url, receiver, 100 + args.deliveries, args.rate, args.seconds)
        receiver.socket.close()


if __name__ == "__main__":
    main()
