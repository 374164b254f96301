"""Webhook deliveries from X: stored raw the moment they arrive, processed afterwards by a worker.

The endpoint (``webhook_asgi`` under ASGI, ``webhook_views`` under WSGI) verifies a POST and stores the
body with ``deliveries_receive`` (the ASGI path stores the POSTs that arrive together in one INSERT and
one commit), then answers at once. Processing is a drain: ``deliveries_drain`` (Celery task
``twitter_channel.webhook_deliveries_drain``) takes every delivery still ``received``, oldest first, in
batches of one transaction each, and ``delivery_processing`` ingests the DMs of a batch together. A burst
of deliveries therefore costs one task and a few statements per batch rather than a task, a commit and a
dozen queries per POST. ``deliveries_sweep`` (beat, every minute) drains what a lost task left behind and
tries failed deliveries again with backoff. A delivery is never deleted: one that failed keeps its body,
and processing it again is safe (ingest is idempotent on X's event ids).
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from twitter_channel.delivery_processing import deliveries_process
from twitter_channel.models import WebhookDelivery, XAccount
from twitter_channel.tasks import webhook_deliveries_drain as webhook_deliveries_drain_task

log = logging.getLogger(__name__)

DRAIN_BATCH = 100
# Set while a drain task is queued or working: the POSTs that arrive meanwhile enqueue nothing and nudge it.
DRAIN_QUEUED_KEY = "twitter_channel:webhook-drain-queued"
# A drain that was lost (worker killed) stops suppressing new ones after this; a working one renews it.
DRAIN_QUEUED_TTL = 30
# The list a lingering drain waits on (BLPOP): one entry per delivery committed while it works or waits.
DRAIN_NUDGE_KEY = "backchannel:twitter_channel:webhook-drain-nudge"
# A drain task hands its worker back after this long, even under a steady stream; the next POST starts another.
DRAIN_MAX_SECONDS = 20
# PostgreSQL advisory lock held by the one drain working at a time (two would lock conversations in
# different orders and deadlock); the value spells "bxdr".
_DRAIN_LOCK = 0x62786472
# Failed deliveries are tried again this many times in all, 1, 2, 4, 8 minutes after each failure.
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
# A delivery still ``received`` after this long lost its drain (broker down, worker killed).
STALE_AFTER = timedelta(seconds=60)
HEALTH_RESOLUTION = timedelta(seconds=10)


def delivery_receive(*, body: str) -> WebhookDelivery:
    """``deliveries_receive`` for one body."""
    return deliveries_receive(bodies=[body])[0]


def deliveries_receive(*, bodies: list[str]) -> list[WebhookDelivery]:
    """Store verified webhook POSTs exactly as X sent them, in one INSERT; make sure a drain runs after commit.

    Changes: creates a ``WebhookDelivery`` (status received) per body, in order. Publishes nothing; locks
    nothing. Talks to nobody: the drain runs after commit, so the requests can answer X at once.
    """
    now = timezone.now()
    with transaction.atomic():
        stored = WebhookDelivery.objects.bulk_create([WebhookDelivery(received_at=now, body=body) for body in bodies])
        # robust: the deliveries are stored either way; a broker or cache that is down must not turn them into
        # error answers (X would retry deliveries we already have). They stay "received" for the sweeper.
        transaction.on_commit(drain_request, robust=True)
    return stored


def drain_request() -> bool:
    """Enqueue a drain unless one is queued or working; return whether one was enqueued.

    Every committed delivery is covered: either this enqueues a drain, or the drain holding
    ``DRAIN_QUEUED_KEY`` is nudged, and before it lets the key go it looks for deliveries once more.
    Tasks run inline (the quick start, no broker) drain at once, key or not: there is no queue to spare, and
    a key left by a worker elsewhere (killed while lingering) must not hold this process's deliveries back.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        webhook_deliveries_drain_task.delay()
        return True
    if not _flags().add(DRAIN_QUEUED_KEY, True, timeout=DRAIN_QUEUED_TTL):
        _nudge()
        return False
    try:
        webhook_deliveries_drain_task.delay()
    except Exception:
        _flags().delete(DRAIN_QUEUED_KEY)
        raise
    return True


@functools.cache
def _flags() -> BaseCache:
    """One client of the default cache for the whole process (Redis and local memory ones are thread-safe).

    ``django.core.cache.cache`` is one client per request context, and under ASGI each of those opened a
    new Redis connection: a third of a webhook POST's time went to connecting.
    """
    return caches.create_connection("default")


@functools.cache
def _redis() -> redis.Redis | None:
    """The process's client for the nudge list; None without Redis (the quick start, where drains run inline)."""
    return redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None


def _nudge() -> None:
    client = _redis()
    if client is not None:
        client.pipeline(transaction=False).rpush(DRAIN_NUDGE_KEY, 1).expire(DRAIN_NUDGE_KEY, DRAIN_QUEUED_TTL).execute()


def _nudged(linger: float) -> bool:
    """Wait up to ``linger`` seconds for a nudge; True when one came (the others are cleared with it)."""
    client = _redis()
    if client is None:
        return False
    if client.blpop([DRAIN_NUDGE_KEY], timeout=linger) is None:
        return False
    client.delete(DRAIN_NUDGE_KEY)
    return True


@dataclass
class DrainResult:
    deliveries: int = 0
    batches: int = 0
    busy: bool = False  # another drain held the lock; it takes what this one would have


def deliveries_drain(*, batch_size: int = DRAIN_BATCH, linger: float = 0) -> DrainResult:
    """Process every delivery still ``received``, oldest first, ``batch_size`` per transaction.

    One drain works at a time (PostgreSQL advisory lock per batch). A drain that finds the lock held
    returns at once (``busy``), because the holder keeps going until nothing is left and looks once more
    after it lets go, so whatever committed while it held the lock is still taken. Rows are taken with
    ``FOR UPDATE SKIP LOCKED``, so rows another transaction holds are left for later. A batch is
    processed by ``delivery_processing.deliveries_process``: one delivery that fails ends failed (body
    kept, reason in ``detail``) and the rest of the batch commits. A database error that rolls the
    transaction back (``OperationalError``) rolls the batch back and raises. Publishes (through the inbox
    services) after each batch commits.

    ``linger`` (the Celery task's, ``X_WEBHOOK_DRAIN_LINGER``): once nothing is left, wait that long for
    the next delivery's nudge and go on, for at most ``DRAIN_MAX_SECONDS`` in all. A steady stream of
    DMs then costs no Celery task per delivery, and a delivery waits for no task to start. A lingering
    drain waits for the lock rather than returning busy: a sweep holding it stops soon.
    """
    result = DrainResult()
    started = time.monotonic()
    touched = 0.0
    while True:
        if time.monotonic() - touched > DRAIN_QUEUED_TTL / 3:
            _flags().touch(DRAIN_QUEUED_KEY, DRAIN_QUEUED_TTL)
            touched = time.monotonic()
        _drain_until_empty(result, batch_size, lingering=linger > 0)
        if result.busy:
            return result
        if linger > 0 and time.monotonic() - started < DRAIN_MAX_SECONDS and _nudged(linger):
            continue
        # Let the key go, then look once more: a delivery committed before it went only nudged.
        _flags().delete(DRAIN_QUEUED_KEY)
        if not _waiting().exists() or not _flags().add(DRAIN_QUEUED_KEY, True, timeout=DRAIN_QUEUED_TTL):
            return result  # nothing left, or a POST since enqueued a drain of its own


def _waiting() -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.RECEIVED)


def _drain_until_empty(result: DrainResult, batch_size: int, *, lingering: bool) -> None:
    """Batches until one is not full and nothing waits. A lingering drain does not look: it holds the key,
    so whatever committed since its batch began has nudged it, and it takes that after the nudge."""
    while True:
        taken = _drain_batch(batch_size, wait_for_lock=lingering)
        if taken is None:
            result.busy = True
            return
        result.deliveries += taken
        result.batches += 1 if taken else 0
        if taken < batch_size and (lingering or not _waiting().exists()):
            return


def _drain_batch(batch_size: int, *, wait_for_lock: bool) -> int | None:
    with transaction.atomic():
        if not _drain_lock(wait=wait_for_lock):
            return None
        batch = list(_waiting().select_for_update(skip_locked=True).order_by("pk")[:batch_size])
        _last_webhook_touch(deliveries_process(batch))
    return len(batch)


def _drain_lock(*, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite (quick start) runs one process and tasks inline
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DRAIN_LOCK])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_DRAIN_LOCK])
        return cursor.fetchone()[0]


@dataclass
class SweepResult:
    retried: int
    drained: int


def deliveries_sweep(*, now: datetime | None = None) -> SweepResult:
    """Beat, every minute: failed deliveries due for another attempt go back to ``received``, then drain.

    A failed delivery is tried ``MAX_ATTEMPTS`` times in all, ``RETRY_BASE`` × 2^(attempts − 1) after its
    last attempt; then it stays failed for an admin to look at. The drain also takes deliveries that
    stayed ``received`` because their drain was never enqueued or was lost.
    """
    now = now or timezone.now()
    due = Q()
    for attempts in range(1, MAX_ATTEMPTS):
        due |= Q(attempts=attempts, processed_at__lte=now - RETRY_BASE * 2 ** (attempts - 1))
    retried = WebhookDelivery.objects.filter(due, status=WebhookDelivery.Status.FAILED).update(
        status=WebhookDelivery.Status.RECEIVED
    )
    stale = _waiting().filter(received_at__lte=now - STALE_AFTER)
    if not retried and not stale.exists():
        return SweepResult(retried=0, drained=0)
    return SweepResult(retried=retried, drained=deliveries_drain().deliveries)


def _last_webhook_touch(heard: dict[int, datetime]) -> None:
    """Move each account's ``last_webhook_at`` forward, after commit and at most every ``HEALTH_RESOLUTION``.

    Inside the batch's transaction this update would hold the account's row lock until commit and make
    everything else touching the account wait in line (measured: 25 events/s).
    """
    for account_id, received_at in heard.items():
        touched = _touched.get(account_id)
        if touched is not None and touched > received_at - HEALTH_RESOLUTION:
            continue  # this process moved it forward moments ago: no UPDATE (and no commit) per batch
        stale = Q(last_webhook_at__isnull=True) | Q(last_webhook_at__lt=received_at - HEALTH_RESOLUTION)

        def touch(account_id: int = account_id, received_at: datetime = received_at, stale: Q = stale) -> None:
            XAccount.objects.filter(stale, pk=account_id).update(last_webhook_at=received_at)
            _touched[account_id] = received_at

        transaction.on_commit(touch, robust=True)


# Per account, the newest ``last_webhook_at`` this process wrote (or found fresh enough).
_touched: dict[int, datetime] = {}
