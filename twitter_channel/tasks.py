"""Celery tasks of the X channel. Thin: they pass ids to ``sync`` and decide only about retrying."""

from __future__ import annotations

from celery import shared_task

from twitter_channel import sync
from twitter_channel.x_errors import RateLimited, Transient


@shared_task(
    name="twitter_channel.dm_backfill",
    bind=True,
    acks_late=True,
    max_retries=8,
)
def dm_backfill(self, account_id: int, days: int = sync.BACKFILL_DAYS) -> dict[str, int]:  # noqa: ANN001
    """Import the last ``days`` of DMs of a newly connected account. Safe to run twice (ingest is idempotent).

    X unreachable → retried with backoff; rate limited → retried after X's reset. An account that needs
    reconnecting raises ``AccountNeedsReconnection``, which is not retried.
    """
    try:
        result = sync.account_backfill(account_id=account_id, days=days)
    except RateLimited as exc:
        raise self.retry(exc=exc, eta=exc.reset_at) from exc
    except Transient as exc:
        raise self.retry(exc=exc, countdown=min(600, 15 * 2**self.request.retries)) from exc
    return {"pages": result.pages, "events": result.events_seen, "created": result.created}
