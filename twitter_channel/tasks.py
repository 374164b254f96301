"""Celery tasks of the X channel. Thin: they pass ids to ``sync`` and decide only about retrying.

Retrying is declared on each task, one policy per kind of work, and Celery works out the waits
(``retry_backoff`` seconds doubling per retry up to ``retry_backoff_max``, each wait drawn at random
between 0 and that, ``max_retries`` retries): ``X_UNAVAILABLE`` for work that calls X (X not answering,
5xx), ``DATABASE_UNAVAILABLE`` for work the database failed (unreachable, a deadlock). When X says when to
come back (a 429's reset), the task comes back then instead. Reply sends are the exception: the time of
their next attempt is the one the agent sees on the reply (``send_after``), so ``sending`` works it out
(``sending.retry_delay``) and ``reply_send`` retries at that time.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TypedDict

from celery import shared_task
from celery.signals import worker_process_init, worker_ready
from django.db import OperationalError

from twitter_channel.inbound import sync
from twitter_channel.x.errors import RateLimited, Transient

log = logging.getLogger(__name__)


class RetryPolicy(TypedDict):
    """Celery's autoretry options, as ``shared_task`` takes them."""

    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int


X_UNAVAILABLE: RetryPolicy = {
    "autoretry_for": (Transient,),
    "retry_backoff": 15,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}
DATABASE_UNAVAILABLE: RetryPolicy = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="twitter_channel.dm_backfill", bind=True, acks_late=True, **X_UNAVAILABLE)
def dm_backfill(self, account_id: int, days: int = sync.BACKFILL_DAYS) -> dict[str, int]:  # noqa: ANN001
    """Import the last ``days`` of DMs of a newly connected account. Safe to run twice (ingest is idempotent).

    X unreachable → retried by ``X_UNAVAILABLE``; rate limited → retried at X's reset. An account that
    needs reconnecting raises ``AccountNeedsReconnection``, which is not retried.
    """
    try:
        result = sync.account_backfill(account_id=account_id, days=days)
    except RateLimited as exc:
        raise self.retry(exc=exc, eta=exc.reset_at) from exc
    return {"pages": result.pages, "events": result.events_seen, "created": result.created}


@shared_task(name="twitter_channel.webhook_deliveries_drain", bind=True, acks_late=True, **DATABASE_UNAVAILABLE)
def webhook_deliveries_drain(self) -> int:  # noqa: ANN001
    """Process every stored webhook delivery still waiting (``deliveries.deliveries_drain``); return how many.

    Workers drain through their ingest listeners (``inbound.listener``); this task runs the drain where no
    listener hears the webhook (tasks inline, as in unit tests). Safe to run twice and beside any drain. A
    database that is unreachable or a deadlock (the batch rolled back whole) is retried by
    ``DATABASE_UNAVAILABLE``.
    """
    from twitter_channel.inbound.deliveries import deliveries_drain

    return deliveries_drain().deliveries


@worker_process_init.connect
def ingest_listener_in_pool_process(**kwargs: object) -> None:
    """Each process of a prefork pool listens for webhook deliveries and drains them (``inbound.listener``)."""
    from twitter_channel.inbound.listener import listener_start

    listener_start()


@worker_ready.connect
def ingest_listener_in_worker(sender: object = None, **kwargs: object) -> None:
    """A worker without a prefork pool (``--pool solo`` or threads) listens in its own process. A prefork
    worker's main process does not: it must open no database connection its pool's processes would inherit."""
    from celery.concurrency.prefork import TaskPool

    from twitter_channel.inbound.listener import listener_start

    if not isinstance(getattr(sender, "pool", None), TaskPool):
        listener_start()


@shared_task(name="twitter_channel.webhook_deliveries_sweep")
def webhook_deliveries_sweep() -> dict[str, int]:
    """Beat, every minute: retry failed deliveries that are due and drain forgotten ones (``deliveries``)."""
    from twitter_channel.inbound.deliveries import deliveries_sweep

    result = deliveries_sweep()
    return {"retried": result.retried, "drained": result.drained}


@shared_task(name="twitter_channel.dm_poll", acks_late=True, ignore_result=True)
def dm_poll(account_id: int) -> dict[str, object]:
    """Poll X for the account's DMs the webhook missed (``sync.account_poll``). Safe to run twice.

    Never retried: X's errors are recorded on the account (a rate limit as ``poll_resume_at``) and the
    next poll, ``X_POLL_INTERVAL`` later, is the retry. ``AccountNeedsReconnection`` is logged and dropped.
    """
    from twitter_channel.connection.tokens import AccountNeedsReconnection
    from twitter_channel.models import XAccount

    try:
        result = sync.account_poll(account_id=account_id)
    except (AccountNeedsReconnection, XAccount.DoesNotExist) as exc:
        log.warning("Not polling X account %s: %s", account_id, exc)
        return {"error": str(exc)}
    return {"pages": result.pages, "events": result.events_seen, "created": result.created, "error": result.error}


@shared_task(name="twitter_channel.dm_poll_due", ignore_result=True)
def dm_poll_due() -> list[int]:
    """Beat, every 15 s: enqueue ``dm_poll`` for each connected account due for a poll (``sync``); return ids."""
    enqueued = []
    for account_id in sync.accounts_due_for_poll().values_list("pk", flat=True):
        if sync.account_poll_claim(account_id=account_id):
            dm_poll.delay(account_id)
            enqueued.append(account_id)
    return enqueued


@shared_task(name="twitter_channel.attachment_download", bind=True, acks_late=True, **X_UNAVAILABLE)
def attachment_download(self, attachment_id: int) -> dict[str, object]:  # noqa: ANN001
    """Copy one DM attachment from X into our storage (``media.attachment_download``). Safe to run twice.

    Rate limited → retried at X's reset; X unreachable → retried by ``X_UNAVAILABLE``. Meanwhile the reason
    is on the attachment (a later success clears it); after the last attempt it stays there and the task
    ends. Every other failure is stored by the service, never raised.
    """
    from twitter_channel.inbound import media

    try:
        outcome = media.attachment_download(attachment_id=attachment_id)
    except (RateLimited, Transient) as exc:
        last = self.request.retries >= self.max_retries
        reason = f"X did not answer{'' if last else ' (trying again)'}: {exc}"
        outcome = media.attachment_download_failed(attachment_id=attachment_id, reason=reason)
        if not last:
            if isinstance(exc, RateLimited):
                raise self.retry(exc=exc, eta=exc.reset_at) from exc
            raise  # Transient: X_UNAVAILABLE works out the wait
    return {"stored": outcome.stored, "error": outcome.error}


@shared_task(name="twitter_channel.reply_send", bind=True, acks_late=True, max_retries=None, ignore_result=True)
def reply_send(self, message_id: int, failures: int = 0, unconfirmed_since: str | None = None) -> dict[str, str]:  # noqa: ANN001
    """Send an agent's queued reply to X (``sending.reply_deliver``), on the ``send`` queue. Safe to run twice.

    The row is claimed under its lock (``queued`` → ``sending``); a reply that is not queued is left
    alone, so a duplicate or redelivered task sends nothing. No permit from the global rate limiter
    (``ratelimit.py``) → retried at the reply's turn; rate limited by X → retried at X's reset; X not
    answering → retried with backoff and jitter, ``sending.MAX_ATTEMPTS`` attempts in all, each retry
    (no sooner than ``X_SEND_VISIBILITY_MARGIN`` after a POST X did not answer) looking on X first for a
    send that may have got through (``reply_lookup``). X refusing, or the account's token being refused
    → ``failed`` with the reason. A reply still in its undo window (``send_after``) is retried then.
    Tasks run inline (unit tests, ``CELERY_TASK_ALWAYS_EAGER``) cannot wait: the retry after X's 5xx
    follows at once, a send X did not answer at all fails the reply (it may have reached the customer),
    and a rate limit fails it with the time to send it again.

    A worker lost in the middle (kill -9, OOM) leaves the reply ``sending``; this task redelivered finds
    it so and sends nothing: ``replies_sweep`` reconciles it with X (``reconcile.py``). A reply whose
    enqueue was lost stays ``queued`` until the same sweep enqueues it again.
    """
    from twitter_channel.outbound import sending

    since = datetime.fromisoformat(unconfirmed_since) if unconfirmed_since else None
    while True:
        attempt = sending.reply_deliver(
            message_id=message_id, failures=failures, unconfirmed_since=since, can_wait=not self.request.is_eager
        )
        if attempt.retry_at is None:
            return {"outcome": attempt.outcome, "detail": attempt.detail}
        failures, since = attempt.failures, attempt.unconfirmed_since
        if attempt.outcome == "waiting" and self.request.is_eager:
            time.sleep(max(0.0, (attempt.retry_at - datetime.now(attempt.retry_at.tzinfo)).total_seconds()))
            continue
        if not self.request.is_eager:
            retry = {"message_id": message_id, "failures": failures,
                     "unconfirmed_since": since.isoformat() if since else None}  # fmt: skip
            raise self.retry(args=(), kwargs=retry, eta=attempt.retry_at)
        # Inline there is no later: try again now (bounded by sending.MAX_ATTEMPTS).


@shared_task(name="twitter_channel.replies_sweep", ignore_result=True)
def replies_sweep() -> dict[str, int]:
    """Beat, every 30 s: re-enqueue replies whose task was lost, reconcile those whose worker died (``reconcile``)."""
    from twitter_channel.outbound import reconcile

    result = reconcile.replies_sweep()
    return {"requeued": result.requeued, "found": result.found, "resent": result.resent, "later": result.later,
            "failed": result.failed}  # fmt: skip


class HandoffBatchGaveUp(Exception):
    """Raised, for the log, by a batch generation that gave up on the database (chained to its error): not an
    ``OperationalError``, so that ``DATABASE_UNAVAILABLE`` does not take it for one more retry."""


@shared_task(
    name="twitter_channel.handoff_batch_generate", bind=True, acks_late=True, ignore_result=True, **DATABASE_UNAVAILABLE
)
def handoff_batch_generate(self, batch_id: int) -> dict[str, object]:  # noqa: ANN001
    """Generate a bulk batch's replies and links (``handoff_batches.handoff_batch_run``), on the default queue.

    Safe to run twice or redelivered: committed rows are skipped, a chunk cut short rolls back whole. The
    database unreachable or a deadlock → retried by ``DATABASE_UNAVAILABLE`` (run inline, as in unit tests,
    nobody could wait: not retried); then, or on any other error, the batch is marked ``failed`` (its rows
    made so far stay downloadable) and the error raised for the log.
    """
    from twitter_channel.handoff import batches as handoff_batches
    from twitter_channel.models import HandoffBatch

    try:
        batch = handoff_batches.handoff_batch_run(batch_id=batch_id)
    except HandoffBatch.DoesNotExist:
        log.warning("Handoff batch %s no longer exists", batch_id)
        return {"error": "no such batch"}
    except OperationalError as exc:
        if self.request.retries < self.max_retries and not self.request.is_eager:
            raise  # DATABASE_UNAVAILABLE works out the wait
        error = "The database did not answer; try a new batch."
        handoff_batches.handoff_batch_fail(batch_id=batch_id, error=error)
        raise HandoffBatchGaveUp(error) from exc
    except Exception as exc:
        error = f"Generation stopped ({type(exc).__name__}); the rows made so far are in the CSV."
        handoff_batches.handoff_batch_fail(batch_id=batch_id, error=error)
        raise
    return {"status": batch.status, "processed": batch.processed, "total": batch.total}
