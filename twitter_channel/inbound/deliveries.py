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

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import connection, transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from twitter_channel.inbound.delivery_processing import deliveries_process
from twitter_channel.models import WebhookDelivery, XAccount
from twitter_channel.task_names import WEBHOOK_DELIVERIES_DRAIN, task

log = logging.getLogger(__name__)

DRAIN_BATCH = 100
# Set while a drain task is queued or working: the POSTs that arrive meanwhile enqueue nothing and nudge it.
DRAIN_QUEUED_KEY = "twitter_channel:webhook-drain-queued"
# A drain that was lost (worker killed) stops suppressing new ones after this; a working one renews it every
# third of it. Short, because while a dead drain's key lives the POSTs only nudge nobody (a worker that starts
# clears it at once: tasks.drain_on_worker_start); a key that lapses under a live drain costs one extra task.
DRAIN_QUEUED_TTL = 10
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
        # robust: the deliveries are stored either way; nothing here may turn them into error answers (X would
        # retry deliveries we already have). The wake-up itself talks to Redis off the answer path (_DrainWaker).
        transaction.on_commit(drain_wake, robust=True)
    return stored


def drain_wake() -> None:
    """Make sure a drain runs for what was just committed, without waiting for Redis.

    Tasks run inline (unit tests): the drain runs here and now. Otherwise the request goes to this process's
    ``_DrainWaker``, which talks to Redis (the drain key, the broker) on its own thread and keeps trying
    while Redis is down or frozen, so a webhook POST is answered as soon as its row is committed.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        drain_request()
        return
    _waker.request()


def drain_wake_flush(timeout: float = 10.0) -> bool:
    """Wait until this process's wake-ups so far went through (False if still trying after ``timeout``)."""
    return _waker.flush(timeout)


def drain_request(*, force: bool = False) -> bool:
    """Enqueue a drain unless one is queued or working; return whether one was enqueued.

    Every committed delivery is covered: either this enqueues a drain, or the drain holding
    ``DRAIN_QUEUED_KEY`` is nudged, and before it lets the key go it looks for deliveries once more.
    Tasks run inline (no broker) drain at once, key or not: there is no queue to spare, and a key left by a
    worker elsewhere (killed while lingering) must not hold this process's deliveries back. ``force``
    enqueues whatever the key says (and takes the key): after a failed attempt, the key may be one this
    process set but could not enqueue for, or delete, while Redis was away. A second drain costs nothing:
    one works at a time. Raises what Redis or the broker raise (bounded by their socket timeouts).
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        task(WEBHOOK_DELIVERIES_DRAIN).delay()
        return True
    if force:
        _flags().set(DRAIN_QUEUED_KEY, True, timeout=DRAIN_QUEUED_TTL)
    elif not _flags().add(DRAIN_QUEUED_KEY, True, timeout=DRAIN_QUEUED_TTL):
        _nudge()
        return False
    try:
        task(WEBHOOK_DELIVERIES_DRAIN).delay()
    except Exception:
        with contextlib.suppress(Exception):
            _flags().delete(DRAIN_QUEUED_KEY)
        raise
    return True


class _DrainWaker:
    """One daemon thread per process that turns "deliveries were committed" into a queued or nudged drain.

    A webhook POST is answered once its row commits; asking Redis for a drain (the drain key, then the
    broker) happens here instead. Requests arriving while one is handled coalesce into one more. When Redis
    or the broker fail (stopped, frozen past their socket timeouts) it tries again every ``RETRY_SECONDS``
    until one goes through, forcing the enqueue (see ``drain_request``): the deliveries stored meanwhile are
    drained within a retry of Redis coming back, with no restart and without waiting for the sweep.
    Started lazily, and again after a fork.
    """

    RETRY_SECONDS = 0.5
    LOG_EVERY_SECONDS = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def request(self) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="webhook-drain-waker", daemon=True)
                self._thread.start()
            self._idle.clear()
            self._wanted.set()

    def flush(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def _run(self) -> None:
        force = False
        last_logged = 0.0
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                drain_request(force=force)
            except Exception as exc:
                force = True
                self._wanted.set()  # try again: the deliveries are stored and must be drained
                if time.monotonic() - last_logged > self.LOG_EVERY_SECONDS:
                    last_logged = time.monotonic()
                    log.warning(
                        "Could not ask for a webhook drain (%s: %s); trying again every %s s until Redis answers",
                        type(exc).__name__, exc, self.RETRY_SECONDS,
                    )  # fmt: skip
                time.sleep(self.RETRY_SECONDS)
                continue
            if force:
                log.info("Asked for a webhook drain again: Redis answers")
            force = False
            with self._lock:
                if not self._wanted.is_set():
                    self._idle.set()


_waker = _DrainWaker()


@functools.cache
def _flags() -> BaseCache:
    """One client of the default cache for the whole process (Redis and local memory ones are thread-safe).

    ``django.core.cache.cache`` is one client per request context, and under ASGI each of those opened a
    new Redis connection: a third of a webhook POST's time went to connecting.
    """
    return caches.create_connection("default")


@functools.cache
def _redis() -> redis.Redis | None:
    """The process's client for the nudge list; None without Redis (unit tests, where drains run inline)."""
    if not settings.REDIS_URL:
        return None
    # A BLPOP waits up to the linger on the socket: the read timeout leaves it that long on top.
    timeout = settings.REDIS_SOCKET_TIMEOUT
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=timeout + settings.X_WEBHOOK_DRAIN_LINGER,
        socket_connect_timeout=timeout,
    )


def _nudge() -> None:
    client = _redis()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        pipe.rpush(DRAIN_NUDGE_KEY, 1)
        pipe.expire(DRAIN_NUDGE_KEY, DRAIN_QUEUED_TTL)
        pipe.execute()


def _nudged(linger: float) -> bool:
    """Wait up to ``linger`` seconds for a nudge; True when one came (the others are cleared with it).

    Without Redis (down, or frozen past the socket timeout) it waits ``linger`` and looks in the database
    instead: a drain already working goes on taking deliveries through a Redis outage, for its
    ``DRAIN_MAX_SECONDS``.
    """
    client = _redis()
    if client is None:
        return False
    try:
        if client.blpop([DRAIN_NUDGE_KEY], timeout=linger) is None:
            return False
        client.delete(DRAIN_NUDGE_KEY)
    except redis.RedisError as exc:
        log.warning("The drain cannot wait on Redis (%s); looking in the database instead", exc)
        time.sleep(linger)
        return _waiting().exists()
    return True


def _key_touch() -> None:
    with _redis_outage_tolerated("renew the drain key"):
        _flags().touch(DRAIN_QUEUED_KEY, DRAIN_QUEUED_TTL)


def _key_release() -> None:
    with _redis_outage_tolerated("release the drain key"):
        _flags().delete(DRAIN_QUEUED_KEY)


def _key_take() -> bool:
    """Take the drain key back to go on; True too when Redis cannot say (this drain then simply goes on)."""
    try:
        return bool(_flags().add(DRAIN_QUEUED_KEY, True, timeout=DRAIN_QUEUED_TTL))
    except redis.RedisError as exc:
        log.warning("Could not take the drain key (%s); draining on", exc)
        return True


@contextlib.contextmanager
def _redis_outage_tolerated(what: str) -> Iterator[None]:
    """The drain key is an optimisation (fewer tasks): without Redis, a drain goes on without it."""
    try:
        yield
    except redis.RedisError as exc:
        log.warning("Could not %s (%s); the drain goes on", what, exc)


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
            _key_touch()
            touched = time.monotonic()
        _drain_until_empty(result, batch_size, lingering=linger > 0)
        if result.busy:
            return result
        if linger > 0 and time.monotonic() - started < DRAIN_MAX_SECONDS and _nudged(linger):
            continue
        # Let the key go, then look once more: a delivery committed before it went only nudged.
        _key_release()
        if not _waiting().exists() or not _key_take():
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
        return True  # SQLite (unit tests) runs one process and tasks inline
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

    A failed delivery is tried ``MAX_ATTEMPTS`` times in all, ``retry_wait`` after its last attempt; then it
    stays failed for an admin to look at. The drain also takes deliveries that stayed ``received`` because
    their drain was never enqueued or was lost.
    """
    now = now or timezone.now()
    due = Q()
    for attempts in range(1, MAX_ATTEMPTS):
        due |= Q(attempts=attempts, processed_at__lte=now - retry_wait(attempts))
    retried = WebhookDelivery.objects.filter(due, status=WebhookDelivery.Status.FAILED).update(
        status=WebhookDelivery.Status.RECEIVED
    )
    stale = _waiting().filter(received_at__lte=now - STALE_AFTER)
    if not retried and not stale.exists():
        return SweepResult(retried=0, drained=0)
    return SweepResult(retried=retried, drained=deliveries_drain().deliveries)


def retry_wait(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed attempt the sweep tries a delivery again: ``RETRY_BASE``
    doubling (1, 2, 4, 8 minutes). Read from the stored row (``processed_at``, ``attempts``), not a task's
    retry: the health page shows the time (``next_attempt_at``), and the sweep acts on it."""
    return RETRY_BASE * 2 ** (attempts - 1)


def delivery_retry(*, delivery_id: int) -> WebhookDelivery:
    """An admin's "Retry" of a delivery that failed processing (Settings → X accounts): process it again now.

    Changes a ``failed`` delivery back to ``received`` (its attempts count on; the sweep's backoff no longer
    applies to it) and wakes a drain after commit. Any other delivery is returned unchanged: one processed
    or ignored stays so, one waiting is already due. Locks the delivery's row. Publishes nothing itself.
    Raises ``WebhookDelivery.DoesNotExist``.
    """
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.status != WebhookDelivery.Status.FAILED:
            return delivery
        delivery.status = WebhookDelivery.Status.RECEIVED
        delivery.save(update_fields=["status"])
        transaction.on_commit(drain_wake, robust=True)
    return delivery


@dataclass(frozen=True)
class ProcessingTrouble:
    """What the channel health page shows of deliveries that are not processed (``deliveries_trouble``)."""

    failed: list[WebhookDelivery]  # the newest failed ones, each with ``next_attempt_at``
    failed_total: int
    stuck_total: int  # still waiting ``STALE_AFTER`` after they arrived: no drain is taking them
    stuck_since: datetime | None  # when the oldest of those arrived


def deliveries_trouble(*, limit: int = 50, now: datetime | None = None) -> ProcessingTrouble:
    """Deliveries that failed processing (the newest ``limit``) and those waiting too long, for admins.

    Each failed one carries ``next_attempt_at``: when the sweep tries it again on its own, None once it gave
    up. Waiting ones are counted from ``STALE_AFTER``: by then a working drain has taken them.
    """
    now = now or timezone.now()
    failed = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED)
    shown = list(failed.select_related("account__inbox").order_by("-received_at", "-pk")[:limit])
    for delivery in shown:
        processed = delivery.processed_at
        if processed is not None and 0 < delivery.attempts < MAX_ATTEMPTS:
            delivery.next_attempt_at = processed + retry_wait(delivery.attempts)
        else:
            delivery.next_attempt_at = None
    stuck = _waiting().filter(received_at__lte=now - STALE_AFTER).aggregate(total=Count("pk"), since=Min("received_at"))
    return ProcessingTrouble(
        failed=shown, failed_total=failed.count(), stuck_total=stuck["total"], stuck_since=stuck["since"]
    )


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
