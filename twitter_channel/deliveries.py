"""Webhook deliveries from X: stored raw the moment they arrive, processed afterwards by a worker.

The endpoint (``webhook_views``) verifies a POST and calls ``delivery_receive``, which stores the body
and answers at once. Processing is a drain: ``deliveries_drain`` (Celery task
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
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from twitter_channel.delivery_processing import deliveries_process
from twitter_channel.models import WebhookDelivery, XAccount
from twitter_channel.tasks import webhook_deliveries_drain as webhook_deliveries_drain_task

log = logging.getLogger(__name__)

DRAIN_BATCH = 100
# Set while a drain task is queued and has not started: the POSTs that arrive meanwhile enqueue nothing.
DRAIN_QUEUED_KEY = "twitter_channel:webhook-drain-queued"
# A queued drain that was lost (worker killed before it started) stops suppressing new ones after this.
DRAIN_QUEUED_TTL = 30
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
    """Store one verified webhook POST exactly as X sent it; make sure a drain runs after commit.

    Changes: creates a ``WebhookDelivery`` (status received). Publishes nothing; locks nothing. Talks
    to nobody: the drain runs after commit, so the request can answer X at once.
    """
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(received_at=timezone.now(), body=body)
        # robust: the delivery is stored either way; a broker or cache that is down must not turn it into an
        # error answer (X would retry a delivery we already have). It stays "received" for the sweeper.
        transaction.on_commit(drain_request, robust=True)
    return delivery


def drain_request() -> bool:
    """Enqueue a drain unless one is already queued and not yet started; return whether one was enqueued.

    Every committed delivery is covered: either this enqueues a drain, or a queued drain has not yet
    cleared ``DRAIN_QUEUED_KEY`` (it does so first thing) and so will select this delivery.
    """
    if not _flags().add(DRAIN_QUEUED_KEY, True, timeout=DRAIN_QUEUED_TTL):
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


@dataclass
class DrainResult:
    deliveries: int = 0
    batches: int = 0
    busy: bool = False  # another drain held the lock; it takes what this one would have


def deliveries_drain(*, batch_size: int = DRAIN_BATCH) -> DrainResult:
    """Process every delivery still ``received``, oldest first, ``batch_size`` per transaction.

    One drain works at a time (PostgreSQL advisory lock per batch); a drain that finds the lock held
    returns at once, because the holder keeps going until nothing is left and looks once more after it
    lets go, so whatever committed while it held the lock is still taken. Rows are taken with
    ``FOR UPDATE SKIP LOCKED``, so rows another transaction holds are left for later. A batch is
    processed by ``delivery_processing.deliveries_process``: one delivery that fails ends failed (body
    kept, reason in ``detail``) and the rest of the batch commits. A database error that rolls the
    transaction back (``OperationalError``) rolls the batch back and raises. Publishes (through the inbox
    services) after each batch commits.
    """
    _flags().delete(DRAIN_QUEUED_KEY)
    result = DrainResult()
    while True:
        taken = _drain_batch(batch_size)
        if taken is None:
            result.busy = True
            return result
        result.deliveries += taken
        result.batches += 1 if taken else 0
        if taken < batch_size and not WebhookDelivery.objects.filter(status=WebhookDelivery.Status.RECEIVED).exists():
            return result


def _drain_batch(batch_size: int) -> int | None:
    with transaction.atomic():
        if not _drain_lock():
            return None
        batch = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookDelivery.Status.RECEIVED)
            .order_by("pk")[:batch_size]
        )
        _last_webhook_touch(deliveries_process(batch))
    return len(batch)


def _drain_lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite (quick start) runs one process and tasks inline
    with connection.cursor() as cursor:
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
    stale = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.RECEIVED, received_at__lte=now - STALE_AFTER)
    if not retried and not stale.exists():
        return SweepResult(retried=0, drained=0)
    return SweepResult(retried=retried, drained=deliveries_drain().deliveries)


def _last_webhook_touch(heard: dict[int, datetime]) -> None:
    """Move each account's ``last_webhook_at`` forward, after commit and at most every ``HEALTH_RESOLUTION``.

    Inside the batch's transaction this update would hold the account's row lock until commit and make
    everything else touching the account wait in line (measured: 25 events/s).
    """
    for account_id, received_at in heard.items():
        stale = Q(last_webhook_at__isnull=True) | Q(last_webhook_at__lt=received_at - HEALTH_RESOLUTION)

        def touch(account_id: int = account_id, received_at: datetime = received_at, stale: Q = stale) -> None:
            XAccount.objects.filter(stale, pk=account_id).update(last_webhook_at=received_at)

        transaction.on_commit(touch, robust=True)
