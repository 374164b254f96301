"""Webhook deliveries from X: stored raw the moment they arrive, processed afterwards by a worker.

The endpoint (``webhook_views``) verifies a POST and calls ``delivery_receive``, which stores the body
and answers at once; ``delivery_process`` (Celery task ``twitter_channel.webhook_delivery_process``)
reads every event in it and hands each to the inbox. A delivery is never deleted: one that failed keeps
its body, and processing it again is safe (ingest is idempotent on X's event ids).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from inbox.dm_events import DmEvent
from inbox.services.customer_signals import customer_read_record, customer_typing_signal
from twitter_channel.ingesting import account_events_ingest
from twitter_channel.models import WebhookDelivery, XAccount
from twitter_channel.parsing import ParsedDelivery, parse_webhook_payload
from twitter_channel.tasks import webhook_delivery_process as webhook_delivery_process_task

log = logging.getLogger(__name__)

FINISHED = (WebhookDelivery.Status.PROCESSED, WebhookDelivery.Status.IGNORED)


def delivery_receive(*, body: str) -> WebhookDelivery:
    """Store one verified webhook POST exactly as X sent it; enqueue its processing after commit.

    Changes: creates a ``WebhookDelivery`` (status received). Publishes nothing; locks nothing. Talks
    to nobody: the task runs after commit, so the request can answer X at once.
    """
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(received_at=timezone.now(), body=body)
        # robust: the delivery is stored either way; a broker that is down must not turn it into an error
        # answer (X would retry a delivery we already have). It stays "received" and can be processed later.
        transaction.on_commit(lambda: webhook_delivery_process_task.delay(delivery.pk), robust=True)
    return delivery


@dataclass
class _Outcome:
    status: str = WebhookDelivery.Status.PROCESSED
    dm_events: int = 0
    created: int = 0
    notes: list[str] = field(default_factory=list)


def delivery_process(*, delivery_id: int) -> WebhookDelivery | None:
    """Process one stored delivery: every DM, typing and read event in it. Safe to run twice.

    Locks the delivery row (``SELECT ... FOR UPDATE``) for the whole run, so a second run waits and then
    returns early: a delivery already processed or ignored is left alone (a failed one is tried again).
    Routes by ``for_user_id`` to the X account whose inbox has that user id; none, or an account that is
    not connected, makes the delivery ignored. DM events are ingested (``account_events_ingest``), each
    in its own savepoint so one that cannot be stored does not lose the others; typing and read events become
    ``customer.typing``/``customer.seen`` (``inbox.services.customer_signals``). Sets the account's
    ``last_webhook_at``. Ends processed (with counts), ignored, or failed (the body is kept), with the
    reasons in ``detail``: families ignored, events rejected by the parser, events not stored.
    Publishes (through the inbox services) after commit. Returns the delivery, None if it does not exist.
    """
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            log.warning("Webhook delivery %s does not exist (deleted?); nothing to process.", delivery_id)
            return None
        if delivery.status in FINISHED:
            return delivery
        outcome = _process(delivery)
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
    return delivery


def _process(delivery: WebhookDelivery) -> _Outcome:
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

    if parsed.for_user_id is None:
        return _ignored(outcome, "The delivery names no subscribed account (no for_user_id).")
    account = XAccount.objects.select_related("inbox").filter(inbox__x_user_id=parsed.for_user_id).first()
    if account is None:
        return _ignored(outcome, f"No X account with user id {parsed.for_user_id} is connected to Backchannel.")
    delivery.account = account
    _last_webhook_touch(account, delivery.received_at)
    if not account.is_connected:
        return _ignored(
            outcome,
            f"@{account.inbox.handle} is {account.get_status_display().lower()}: its deliveries are not "
            "processed until it is connected again.",
        )

    outcome.created = _dm_events_ingest(account, parsed, outcome)
    _signals(account, parsed, outcome)
    return outcome


def _ignored(outcome: _Outcome, reason: str) -> _Outcome:
    outcome.status = WebhookDelivery.Status.IGNORED
    outcome.notes.insert(0, reason)
    return outcome


HEALTH_RESOLUTION = timedelta(seconds=10)


def _last_webhook_touch(account: XAccount, received_at: datetime) -> None:
    """Move ``last_webhook_at`` forward, after commit and at most every ``HEALTH_RESOLUTION``.

    Inside the delivery's transaction this update would hold the account's row lock until commit and
    make every worker processing that account's deliveries wait in line (measured: 25 events/s).
    """
    stale = Q(last_webhook_at__isnull=True) | Q(last_webhook_at__lt=received_at - HEALTH_RESOLUTION)
    transaction.on_commit(
        lambda: XAccount.objects.filter(stale, pk=account.pk).update(last_webhook_at=received_at), robust=True
    )


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
