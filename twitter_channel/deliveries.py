"""Webhook deliveries from X: stored raw the moment they arrive, processed afterwards by a worker.

The endpoint (``webhook_views``) verifies a POST and calls ``delivery_receive``, which stores the body
and answers at once. Processing is a drain: ``deliveries_drain`` (Celery task
``twitter_channel.webhook_deliveries_drain``) takes every delivery still ``received``, oldest first, in
batches of one transaction each, and hands each event to the inbox. A burst of deliveries therefore costs
one task and a few commits rather than one of each per POST. ``deliveries_sweep`` (beat, every minute)
drains what a lost task left behind and tries failed deliveries again with backoff; ``delivery_process``
processes one delivery on demand. A delivery is never deleted: one that failed keeps its body, and
processing it again is safe (ingest is idempotent on X's event ids).
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from inbox.dm_events import DmEvent
from inbox.services.customer_signals import customer_read_record, customer_typing_signal
from twitter_channel.connection import account_access_revoked
from twitter_channel.ingesting import account_events_ingest
from twitter_channel.models import WebhookDelivery, XAccount
from twitter_channel.parsing import AppRevocation, ParsedDelivery, parse_webhook_payload
from twitter_channel.tasks import webhook_deliveries_drain as webhook_deliveries_drain_task

log = logging.getLogger(__name__)

FINISHED = (WebhookDelivery.Status.PROCESSED, WebhookDelivery.Status.IGNORED)
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
class _Outcome:
    status: str = WebhookDelivery.Status.PROCESSED
    dm_events: int = 0
    created: int = 0
    notes: list[str] = field(default_factory=list)


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
    ``FOR UPDATE SKIP LOCKED``, so a ``delivery_process`` running beside it is left alone. Each
    delivery is processed in its own savepoint: one that raises ends failed (body kept, reason in
    ``detail``) and the rest of the batch commits. A database error rolls the batch back and raises.
    Publishes (through the inbox services) after each batch commits.
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
        accounts: dict[str, XAccount | None] = {}
        heard: dict[int, datetime] = {}
        for delivery in batch:
            _process_and_record(delivery, accounts, heard)
        _last_webhook_touch(heard)
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


def delivery_process(*, delivery_id: int) -> WebhookDelivery | None:
    """Process one stored delivery now, whatever drains are doing: every DM, typing and read event in it.

    Safe to run twice: the delivery row is locked (``SELECT ... FOR UPDATE``) for the whole run, so a
    second run waits and then returns early; a delivery already processed or ignored is left alone (a
    failed one is tried again). What processing does is described in ``_process``. Returns the delivery,
    None if it does not exist.
    """
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            log.warning("Webhook delivery %s does not exist (deleted?); nothing to process.", delivery_id)
            return None
        if delivery.status in FINISHED:
            return delivery
        heard: dict[int, datetime] = {}
        _process_and_record(delivery, {}, heard)
        _last_webhook_touch(heard)
    return delivery


def _process_and_record(
    delivery: WebhookDelivery, accounts: dict[str, XAccount | None], heard: dict[int, datetime]
) -> None:
    """Process a locked delivery in a savepoint and store the outcome on it; note its account in ``heard``."""
    try:
        with transaction.atomic():
            outcome = _process(delivery, accounts)
    except OperationalError:
        raise  # the database itself (connection, deadlock): the whole run rolls back and the task retries
    except Exception as exc:
        log.exception("Could not process webhook delivery %s", delivery.pk)
        outcome = _Outcome(
            status=WebhookDelivery.Status.FAILED, notes=[f"Processing stopped: {type(exc).__name__}: {exc}"]
        )
    if delivery.account_id is not None:
        heard[delivery.account_id] = max(delivery.received_at, heard.get(delivery.account_id, delivery.received_at))
    delivery.status = outcome.status
    delivery.dm_events = outcome.dm_events
    delivery.messages_created = outcome.created
    delivery.detail = "\n".join(outcome.notes)
    delivery.attempts += 1
    delivery.processed_at = timezone.now()
    delivery.save(
        update_fields=["status", "dm_events", "messages_created", "detail", "attempts", "processed_at",
                       "for_user_id", "account"]
    )  # fmt: skip


def _process(delivery: WebhookDelivery, accounts: dict[str, XAccount | None]) -> _Outcome:
    """Read every event of ``delivery`` and hand it on; return what happened (nothing saved on the delivery).

    Routes by ``for_user_id`` to the X account whose inbox has that user id (``accounts`` caches the
    lookup within a batch); none, or an account that is not connected, makes the delivery ignored. DM
    events are ingested (``account_events_ingest``), each in its own savepoint so one that cannot be
    stored does not lose the others; typing and read events become ``customer.typing``/``customer.seen``
    (``inbox.services.customer_signals``). A ``user_event`` revoke marks the revoking user's account
    as needing reconnection (``connection.account_access_revoked``). Ends processed (with counts),
    ignored, or failed, with the reasons in the notes: families ignored, events rejected by the parser,
    events not stored.
    """
    try:
        parsed = parse_webhook_payload(json.loads(delivery.body))
    except (ValueError, RecursionError) as exc:  # PayloadError and JSONDecodeError are ValueErrors
        return _Outcome(status=WebhookDelivery.Status.FAILED, notes=[f"Not a delivery we can read: {exc}"])

    delivery.for_user_id = parsed.for_user_id or ""
    outcome = _Outcome(dm_events=len(parsed.dm_events))
    if parsed.ignored:
        outcome.notes.append("Ignored (not handled here): " + ", ".join(parsed.ignored) + ".")
    if parsed.rejected:
        outcome.notes.append("Rejected as malformed and left out: " + "; ".join(parsed.rejected) + ".")

    for revocation in parsed.revocations:
        outcome.notes.append(_revocation_apply(revocation))
    if parsed.for_user_id is None:
        if parsed.revocations:
            return outcome
        return _ignored(outcome, "The delivery names no subscribed account (no for_user_id).")
    if parsed.for_user_id not in accounts:
        accounts[parsed.for_user_id] = (
            XAccount.objects.select_related("inbox").filter(inbox__x_user_id=parsed.for_user_id).first()
        )
    account = accounts[parsed.for_user_id]
    if account is None:
        return _ignored(outcome, f"No X account with user id {parsed.for_user_id} is connected to Backchannel.")
    delivery.account = account
    if not account.is_connected:
        return _ignored(
            outcome,
            f"@{account.inbox.handle} is {account.get_status_display().lower()}: its deliveries are not "
            "processed until it is connected again.",
        )

    outcome.created = _dm_events_ingest(account, parsed, outcome)
    _signals(account, parsed, outcome)
    return outcome


def _revocation_apply(revocation: AppRevocation) -> str:
    account = account_access_revoked(x_user_id=revocation.x_user_id, revoked_at=revocation.revoked_at)
    if account is not None:
        return f"{account.inbox} revoked Backchannel's access on X: the account now needs reconnection."
    return (
        f"X user {revocation.x_user_id} revoked an app's access at {revocation.revoked_at:%Y-%m-%d %H:%M:%S} UTC; "
        "no account changed (none with that user id is connected, or it was connected again since)."
    )


def _ignored(outcome: _Outcome, reason: str) -> _Outcome:
    outcome.status = WebhookDelivery.Status.IGNORED
    outcome.notes.insert(0, reason)
    return outcome


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


def _dm_events_ingest(account: XAccount, parsed: ParsedDelivery, outcome: _Outcome) -> int:
    own_id, handle = account.inbox.x_user_id, account.inbox.handle
    created = 0
    not_stored: list[str] = []
    for event in sorted(parsed.dm_events, key=lambda e: (e.created_at, int(e.x_event_id))):
        if not _involves(event, own_id):
            not_stored.append(f"event {event.x_event_id}: conversation {event.x_conversation_id} is not @{handle}'s")
            continue
        try:
            # Each event is its own savepoint inside ingest, so a failure here leaves the others intact.
            results = account_events_ingest(account=account, events=[event])
        except OperationalError:
            raise  # the database itself (connection, deadlock): the whole run rolls back and the task retries
        except Exception as exc:
            # One event that cannot be stored must not lose the others; the delivery ends failed so that
            # it can be processed again (what was stored stays stored, once).
            log.exception("Could not ingest X event %s of webhook delivery", event.x_event_id)
            not_stored.append(f"event {event.x_event_id}: {type(exc).__name__}: {exc}")
            outcome.status = WebhookDelivery.Status.FAILED
            continue
        created += sum(result.created for result in results)
    if not_stored:
        outcome.notes.append("Not stored: " + "; ".join(not_stored) + ".")
    return created


def _involves(event: DmEvent, own_id: str) -> bool:
    """A one-to-one event must be in one of the account's conversations (group ids do not say)."""
    return event.is_group or own_id in event.x_conversation_id.split("-")


def _signals(account: XAccount, parsed: ParsedDelivery, outcome: _Outcome) -> None:
    inbox = account.inbox
    typing_skipped = sum(customer_typing_signal(inbox=inbox, event=event) is None for event in parsed.typing)
    reads_skipped = sum(customer_read_record(inbox=inbox, event=event) is None for event in parsed.reads)
    if typing_skipped:
        outcome.notes.append(
            f"{typing_skipped} of {len(parsed.typing)} typing event(s) were not a customer of @{inbox.handle} "
            "typing in one of its conversations."
        )
    if reads_skipped:
        outcome.notes.append(
            f"{reads_skipped} of {len(parsed.reads)} read receipt(s) were not a customer of @{inbox.handle} "
            "reading further in one of its conversations."
        )
