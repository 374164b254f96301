"""Webhook deliveries from X: stored raw the moment they arrive, processed afterwards by a worker.

The endpoint (``webhook_asgi`` under ASGI, ``webhook_views`` under WSGI) verifies a POST and stores the
body with ``deliveries_receive`` (the ASGI path stores the POSTs that arrive together in one INSERT and
one commit), then answers at once. The same transaction issues ``NOTIFY`` on ``NOTIFY_CHANNEL``:
PostgreSQL delivers it to every session LISTENing exactly when the rows commit (never before, and nothing
is left to do after commit that could be lost), and the ingest listeners of the Celery workers
(``listener``) wake and drain. No Redis, no Celery task and no extra round trip lie on that path.

Processing is a drain: ``deliveries_drain`` takes deliveries still ``received``, oldest first, in batches of
one transaction each (``FOR UPDATE SKIP LOCKED``), and ``delivery_processing`` ingests the DMs of a batch
together. Any number of drains work at once: each takes a transaction-scoped advisory lock per
conversation its batch touches (``pg_try_advisory_xact_lock``, never waiting while it holds others, so two
drains never deadlock) and leaves the deliveries of a conversation another drain is working on for a later
batch; a drain that finds only such deliveries waits for that conversation alone, holding nothing else.
So batches of different conversations commit in parallel, and the messages of one conversation are
stored by one drain at a time (X's order in a thread is its time and event id, whatever the order of
arrival). ``deliveries_sweep`` (beat, every minute) drains what nobody took (no worker was running) and
tries failed deliveries again with backoff. A delivery is never deleted: one that failed keeps its body,
and processing it again is safe (ingest is idempotent on X's event ids).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from inbox.services.rows import for_update, hot_cursor, rows_insert, rows_select
from twitter_channel.inbound import delivery_processing
from twitter_channel.models import WebhookDelivery, XAccount
from twitter_channel.task_names import WEBHOOK_DELIVERIES_DRAIN, task

log = logging.getLogger(__name__)

DRAIN_BATCH = 100
# The PostgreSQL channel every stored delivery is announced on (``NOTIFY``); the ingest listeners LISTEN on it.
NOTIFY_CHANNEL = "backchannel_webhook_deliveries"
# The first key of the per-conversation advisory locks (``pg_try_advisory_xact_lock(int, int)``): "bx".
_CONVERSATION_LOCKS = 0x6278
# Failed deliveries are tried again this many times in all, 1, 2, 4, 8 minutes after each failure.
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
# A delivery still ``received`` after this long lost its drain (no worker running, a listener stuck).
STALE_AFTER = timedelta(seconds=60)
HEALTH_RESOLUTION = timedelta(seconds=10)


def delivery_receive(*, body: str) -> WebhookDelivery:
    """``deliveries_receive`` for one body."""
    return deliveries_receive(bodies=[body])[0]


def deliveries_receive(*, bodies: list[str]) -> list[WebhookDelivery]:
    """Store verified webhook POSTs exactly as X sent them, in one INSERT, and announce them to the drains.

    Changes: creates a ``WebhookDelivery`` (status received) per body, in order, and issues ``NOTIFY``
    in the same transaction (delivered to the listeners at commit). Publishes nothing; locks nothing; talks
    to nobody else, so the requests can answer X at once. Tasks run inline (unit tests) drain after commit.
    """
    now = timezone.now()
    with transaction.atomic():
        stored = rows_insert([WebhookDelivery(received_at=now, body=body) for body in bodies])
        _announce()
    return stored


def _announce() -> None:
    """Wake the drains when the current transaction commits: ``NOTIFY`` on PostgreSQL, else a drain after commit.

    robust: the deliveries are stored either way; nothing after commit may turn them into error answers
    (X would retry deliveries we already have).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    if settings.CELERY_TASK_ALWAYS_EAGER or connection.vendor != "postgresql":
        transaction.on_commit(drain_wake, robust=True)


def drain_wake() -> None:
    """Run a drain for what was just committed where no listener hears ``NOTIFY``: inline when tasks run
    inline (unit tests, the quick start without Redis), else as a Celery task (a database without NOTIFY)."""
    task(WEBHOOK_DELIVERIES_DRAIN).delay()


@dataclass
class DrainResult:
    deliveries: int = 0
    batches: int = 0
    deferred: int = 0  # deliveries left for later at least once because another drain held their conversation


@dataclass
class _Batch:
    taken: int = 0  # deliveries claimed
    done: int = 0  # deliveries given an outcome
    deferred: list[str] = field(default_factory=list)  # conversations held by other drains, of deferred deliveries


def deliveries_drain(*, batch_size: int = DRAIN_BATCH) -> DrainResult:
    """Process every delivery still ``received``, oldest first, ``batch_size`` per transaction.

    Rows are taken with ``FOR UPDATE SKIP LOCKED``, so rows another drain holds are left to it. Within a
    batch, the deliveries of a conversation another drain holds (its advisory lock) are left ``received``
    for a later batch; a batch with nothing else waits until that drain commits (holding no lock of its
    own) and goes on. A batch is processed by ``delivery_processing.deliveries_process``: one delivery
    that fails ends failed (body kept, reason in ``detail``) and the rest of the batch commits. A
    database error that rolls the transaction back (``OperationalError``) rolls the batch back and raises.
    Publishes (through the inbox services) after each batch commits. Returns once a batch was not full
    and nothing was left for later: what commits afterwards is announced to the listeners again.
    """
    result = DrainResult()
    while True:
        batch = _drain_batch(batch_size)
        result.deliveries += batch.done
        result.batches += 1 if batch.done else 0
        result.deferred += len(batch.deferred)
        if batch.deferred and not batch.done:
            _conversation_wait(batch.deferred[0])
        elif batch.taken < batch_size and not batch.deferred:
            return result


def _waiting() -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.RECEIVED)


def _drain_batch(batch_size: int) -> _Batch:
    """One batch in one transaction; when it fails in a way a savepoint would have contained, it is rolled
    back and processed again carefully (``delivery_processing.NeedsCare``)."""
    try:
        with transaction.atomic():
            return _batch_process(_claim(batch_size), careful=False)
    except delivery_processing.NeedsCare as exc:
        log.warning("A batch of webhook deliveries went wrong (%r); processing it again one by one", exc.__cause__)
    with transaction.atomic():
        return _batch_process(_claim(batch_size), careful=True)


def _claim(batch_size: int) -> list[WebhookDelivery]:
    """The oldest ``batch_size`` deliveries still waiting that no other drain holds, locked.

    Raw SQL (``rows_select``): the ORM's compiling of this SELECT was a tenth of a one-DM drain's CPU.
    """
    return rows_select(
        WebhookDelivery,
        "t.status = %s",
        [WebhookDelivery.Status.RECEIVED, batch_size],
        tail=f"ORDER BY t.id LIMIT %s {for_update(skip_locked=True)}",
    )


def _batch_process(batch: list[WebhookDelivery], *, careful: bool) -> _Batch:
    if not batch:
        return _Batch()
    processed = delivery_processing.deliveries_process(batch, careful=careful, locks=_conversations_lock)
    _last_webhook_touch(processed.heard)
    return _Batch(taken=len(batch), done=len(batch) - len(processed.deferred), deferred=processed.deferred_locks)


def _lock_key(conversation: str) -> int:
    """The second key of a conversation's advisory lock: a stable signed 32-bit hash of its name (two
    conversations sharing one only take turns)."""
    value = zlib.crc32(conversation.encode())
    return value - 2**32 if value >= 2**31 else value


def _conversations_lock(conversations: set[str]) -> set[str]:
    """Try the advisory lock of each conversation for this transaction, never waiting; return those taken."""
    if connection.vendor != "postgresql" or not conversations:
        return conversations  # SQLite (unit tests) runs one process and drains inline
    keys: dict[int, list[str]] = {}
    for name in conversations:
        keys.setdefault(_lock_key(name), []).append(name)
    with hot_cursor() as cursor:
        cursor.execute(
            "SELECT k FROM unnest(%s::int4[]) AS k WHERE pg_try_advisory_xact_lock(%s, k)",
            [sorted(keys), _CONVERSATION_LOCKS],
        )
        return {name for (key,) in cursor.fetchall() for name in keys[key]}


def _conversation_wait(conversation: str) -> None:
    """Wait until the drain holding ``conversation`` commits, holding nothing else meanwhile."""
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_CONVERSATION_LOCKS, _lock_key(conversation)])


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
    applies to it) and announces it to the drains (``NOTIFY``, delivered at commit). Any other delivery is
    returned unchanged: one processed or ignored stays so, one waiting is already due. Locks the delivery's
    row. Publishes nothing itself. Raises ``WebhookDelivery.DoesNotExist``.
    """
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.status != WebhookDelivery.Status.FAILED:
            return delivery
        delivery.status = WebhookDelivery.Status.RECEIVED
        delivery.save(update_fields=["status"])
        _announce()
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
