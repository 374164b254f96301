"""Benchmark: X's deliveries as they really arrive, and a poisoned one, through the real stack (issue 16).

Starts uvicorn and a Celery worker on PostgreSQL and Redis (``bench/harness.py``, as ``bench/ingest.py``
does, with its load generator), then:

1. replay: ``--deliveries`` signed deliveries (``bench/replay_world.py``: ``--duplicates`` of them X's
   retries, shuffled, many on the same millisecond, a fifth in one busy conversation, the rest over
   ``--conversations``) POSTed over ``--concurrency`` connections; once the drain has processed them all,
   prints how many messages were lost and doubled, and in how many conversations the summary (newest
   message's time and preview, needs-reply, last inbound, first response) or the thread's order differs
   from what X's order gives, worked out from the events themselves (must be 0);
2. poison: the delivery that used to stop all DM processing (a lone surrogate as an event's type), then
   ``--after-poison`` valid ones; prints the seconds until every one of them was stored (target: within a
   minute) and what became of the poisoned delivery.

    BENCH_DATABASE_URL=... BENCH_REDIS_URL=... python bench/replay.py [--deliveries 10000] [--conversations 300]

The database and Redis are ``bench/harness.py``'s (``BENCH_DATABASE_URL``, ``BENCH_REDIS_URL``): the
database is dropped and migrated, the Redis database flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness, replay_world  # noqa: E402
from bench.ingest import BUSINESS_ID, Connection, delivery, event_id, prepare, signed_post  # noqa: E402

if TYPE_CHECKING:
    from inbox.models import Conversation

POISON = b'{"for_user_id":"%s","direct_message_events":[{"type":"\\ud800"}]}' % BUSINESS_ID.encode()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def post_all(base_url: str, bodies: list[bytes], concurrency: int) -> Counter[int]:
    """POST every body, signed, over ``concurrency`` keep-alive connections; the statuses answered."""
    host, port = base_url.removeprefix("http://").split(":")
    requests = iter([signed_post(body, f"{host}:{port}") for body in bodies])
    statuses: Counter[int] = Counter()

    async def worker() -> None:
        connection = await Connection.open(host, int(port))
        for request in requests:
            status, _ = await connection.exchange(request)
            statuses[status] += 1
        connection.writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def wait_until(condition, *, timeout: float, every: float = 0.2) -> float | None:
    """Seconds until ``condition()`` held, or None if it did not within ``timeout``."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if condition():
            return time.perf_counter() - start
        time.sleep(every)
    return None


def replay(base_url: str, args: argparse.Namespace) -> None:
    from inbox.models import Conversation, Message
    from twitter_channel.models import WebhookDelivery

    world = replay_world.world(
        deliveries=args.deliveries, conversations=args.conversations, duplicate_share=args.duplicates
    )
    started = time.perf_counter()
    statuses = uvloop.run(post_all(base_url, [*world.bodies], args.concurrency))
    posted = time.perf_counter() - started
    waiting = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.RECEIVED)
    everything = WebhookDelivery.objects.all()
    drained = wait_until(lambda: everything.count() == len(world.bodies) and not waiting.exists(), timeout=600)
    print(
        f"replay: {len(world.bodies)} deliveries ({len(world.bodies) - len(world.events)} X's retries, shuffled) "
        f"of {len(world.events)} messages in {args.conversations} conversations; answers {dict(statuses)}; "
        f"posted in {posted:.1f} s, all processed {posted + (drained or float('nan')):.1f} s after the first POST"
    )
    stored = Counter(Message.objects.filter(x_event_id__isnull=False).values_list("x_event_id", flat=True))
    wanted = {event.event_id for event in world.events}
    lost = len(wanted - stored.keys())
    doubled = sum(count - 1 for count in stored.values() if count > 1)
    conversations = {c.x_conversation_id: c for c in Conversation.objects.all()}
    summaries_wrong = threads_wrong = 0
    for customer, want in world.expected().items():
        conversation = conversations[replay_world.conversation_id(customer)]
        thread = conversation.messages.order_by("occurred_at", "x_sequence", "pk").values_list("x_event_id")
        threads_wrong += tuple(x_event_id for (x_event_id,) in thread) != want.thread
        summaries_wrong += summary_of(conversation) != (
            at(want.last_message_ms),
            want.preview,
            want.needs_reply,
            at(want.last_inbound_ms),
            at(want.first_response_ms),
        )
    statuses_after = dict(Counter(WebhookDelivery.objects.values_list("status", flat=True)))
    print(
        f"  {lost} lost, {doubled} doubled; {summaries_wrong} of {len(conversations)} conversations with a summary "
        f"other than X's order gives, {threads_wrong} with a thread out of X's order; deliveries {statuses_after}"
    )


def summary_of(conversation: Conversation) -> tuple:
    return (
        conversation.last_message_at,
        conversation.last_message_preview,
        conversation.needs_reply,
        conversation.last_inbound_at,
        conversation.first_response_at,
    )


def at(ms: int | None) -> datetime | None:
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)


def poison(base_url: str, args: argparse.Namespace) -> None:
    from inbox.models import Message
    from twitter_channel.models import WebhookDelivery

    first = 1_000_000  # delivery numbers of bench/ingest.py's generator that nothing else used
    ids = [event_id(n) for n in range(first, first + args.after_poison)]
    started = time.perf_counter()
    valid = [delivery(n) for n in range(first, first + args.after_poison)]
    answered = uvloop.run(post_all(base_url, [POISON], 1))
    answered += uvloop.run(post_all(base_url, valid, args.concurrency))
    posted = time.perf_counter() - started
    stored = Message.objects.filter(x_event_id__in=ids)
    took = wait_until(lambda: stored.count() == len(ids), timeout=max(0.0, 60 - posted))
    bad = WebhookDelivery.objects.filter(body=POISON.decode()).get()
    if took is None:
        outcome = f"only {stored.count()} of {len(ids)} stored within a minute"
    else:
        outcome = f"all {len(ids)} stored {posted + took:.1f} s after the first POST"
    print(f"poison: the wedging delivery, then {len(ids)} valid ones (answers {dict(answered)}): {outcome}")
    print(f"  the poisoned delivery: {bad.status}: {bad.detail!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--after-poison", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    args = parser.parse_args()

    harness.recreate_database()
    prepare()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    with harness.running_stack(
        web_workers=args.web_workers, celery_concurrency=args.celery_concurrency, log_dir=log_dir
    ) as stack:
        database = harness.BENCH_DATABASE_URL.rsplit("/", 1)[-1]
        print(
            f"stack: uvicorn x{args.web_workers}, celery concurrency {args.celery_concurrency}, "
            f"PostgreSQL {database}, Redis {harness.BENCH_REDIS_URL}; {os.cpu_count()} cores; logs in {log_dir}"
        )
        replay(stack.base_url, args)
        poison(stack.base_url, args)


if __name__ == "__main__":
    main()
