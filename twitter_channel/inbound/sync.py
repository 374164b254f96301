"""Pulling DMs from X: the poll that closes the gaps webhooks leave, and the 30-day backfill after connecting.

``GET /2/dm_events`` lists newest first. Both read pages and hand the events to the inbox oldest first,
each in its own transaction. Ingestion is idempotent on X's event id, so running either twice, or beside
webhooks, stores every message once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from inbox.dm_events import DmEvent
from inbox.models import Message
from inbox.services.ingest import IngestResult
from twitter_channel.connection.tokens import AccountNeedsReconnection, client_for
from twitter_channel.inbound.ingesting import account_events_ingest
from twitter_channel.inbound.parsing import payloads as parsing
from twitter_channel.models import XAccount
from twitter_channel.x.errors import RateLimited, XError
from twitter_channel.x.rate_limits import RateLimit

log = logging.getLogger(__name__)
BACKFILL_DAYS = 30
# Requests of X's GET window a poll leaves to backfills, `sync_dms` and conversation lookups: when a
# page's headers say no more than this is left, polling pauses until the window resets.
POLL_RESERVE = 1


@dataclass(frozen=True)
class SyncResult:
    pages: int
    events_seen: int
    created: int
    complete: bool = True
    """False when the poll stopped before reaching stored events (rate limit, error): nothing was ingested."""
    error: str = ""
    paused_until: datetime | None = None


def page_events(page: parsing.LookupPage) -> list[DmEvent]:
    """The events of a lookup page read by ``parsing.read_lookup_page``; what X sent malformed was left out
    (and is logged here)."""
    for problem in page.rejected:
        log.warning("Left out part of a DM events page X sent in a shape we do not understand: %s", problem)
    return list(page.dm_events)


def account_backfill(
    *, account_id: int, days: int = BACKFILL_DAYS, page_size: int = 100, since: datetime | None = None
) -> SyncResult:
    """Import the account's DM events since ``since`` (default: the last ``days`` days; X keeps 30 here).

    Reads every page back to ``since``, then ingests. Changes only what ingestion changes (see
    ``inbox.services.ingest``). X's errors propagate: the task retries them.
    """
    account = XAccount.objects.select_related("inbox").get(pk=account_id)
    since = since or timezone.now() - timedelta(days=days)
    collected: list[DmEvent] = []
    pages = 0
    for page in client_for(account).dm_events_pages(max_results=page_size, read=parsing.read_lookup_page):
        pages += 1
        events = page_events(page)
        collected.extend(e for e in events if e.created_at >= since)
        if events and min(e.created_at for e in events) < since:
            break
    results, left_out = _ingest_keeping_the_rest(account, collected)
    created = sum(1 for r in results if r.created)
    log.info("Backfilled @%s: %d pages, %d events, %d new", account.inbox.handle, pages, len(collected), created)
    if left_out:
        log.warning("Backfill of @%s left out %s", account.inbox.handle, _left_out_note(left_out))
    return SyncResult(pages=pages, events_seen=len(collected), created=created)


# --- polling --------------------------------------------------------------------------------------------------


def account_poll(*, account_id: int, page_size: int = 100) -> SyncResult:
    """Fetch what X has that the inbox lacks: page ``GET /2/dm_events`` newest first until a page reaches
    events already stored (or X's 30-day window ends), then ingest everything read, oldest first.

    "Reaches" means the oldest event of the page is stored in the inbox. Stopping at the first page that
    merely *contains* a stored event would leave a hole when a newer message came by webhook (or was
    sent from here) after a gap of more than a page: that page holds a stored event, and the older
    missing ones sit on the next page. The oldest of a page being stored means the page overlaps what
    the inbox already holds.

    A poll that cannot reach stored events (X's window exhausted mid-way, an error) ingests nothing:
    ingesting the newest pages alone would make the next poll stop on them and never look further back.
    The next poll starts again from the newest page.

    Rate limit. X's three DM list endpoints share one window per user: 15 requests per 15 minutes
    on today's tier, 300 at launch (x-api.md §5). A poll usually costs one request (the newest page
    overlaps what is stored, or is empty), one more per 100 missed events, and one more when the poll
    reads to the end of X's list (X ends it with an empty page). With ``X_POLL_INTERVAL`` = 120 s an
    account is polled at most 900 / 120 = 7.5, so 8, times per window: 8 of the 15 requests, leaving 7
    for catching up after an outage, the 30-day backfill after connecting and ``sync_dms``. Below 60 s
    the polls alone would use all 15. Whatever the interval, the poll reads X's ``x-rate-limit-*``
    headers (15-minute and 24-hour windows) of its last page: with ``POLL_RESERVE`` (1) or fewer
    requests left it sets ``poll_resume_at`` to X's reset, and ``dm_poll_due`` does not poll the
    account before then; a 429 sets it to X's reset too. Neither is retried: the next poll is the retry.

    Changes: ``last_polled_at`` (when a poll that reached stored events began), ``last_poll_error``
    (emptied by such a poll), ``poll_resume_at``, plus what ingestion changes. X's errors are recorded,
    not raised, except ``AccountNeedsReconnection`` (recorded, then raised).
    """
    account = XAccount.objects.select_related("inbox").get(pk=account_id)
    started = timezone.now()
    since = started - timedelta(days=BACKFILL_DAYS)
    collected: list[DmEvent] = []
    pages = 0
    rate: RateLimit | None = None
    token: str | None = None
    client = client_for(account)
    try:
        while True:
            page = client.dm_events_page(max_results=page_size, pagination_token=token, read=parsing.read_lookup_page)
            pages += 1
            rate = page.rate_limit
            events = page_events(page)
            recent = [e for e in events if e.created_at >= since]
            collected.extend(recent)
            if _last_page(page, token) or len(recent) < len(events) or _reaches_stored(account, recent):
                break
            if _exhausted(rate):
                error = f"Stopped after {pages} pages without reaching stored messages: X's rate limit is used up."
                return _poll_failed(account, pages, collected, error=error, resume_at=rate.reopens_at())
            token = page.next_token
    except AccountNeedsReconnection as exc:
        _poll_failed(account, pages, collected, error=str(exc))
        raise
    except RateLimited as exc:
        return _poll_failed(account, pages, collected, error=str(exc), resume_at=exc.reset_at)
    except XError as exc:
        return _poll_failed(account, pages, collected, error=str(exc))
    finally:
        client.close()

    try:
        results, left_out = _ingest_keeping_the_rest(account, collected)
    except Exception as exc:
        # Events stored before the failure stay (each has its own transaction); the next poll reads them again.
        _poll_failed(account, pages, collected, error=f"Could not store what X sent: {exc!r}")
        raise
    created = sum(1 for r in results if r.created)
    paused_until = _pause_until(rate)
    XAccount.objects.filter(pk=account.pk).update(
        last_polled_at=started, last_poll_error=_left_out_note(left_out), poll_resume_at=paused_until
    )
    log.info("Polled @%s: %d pages, %d events, %d new", account.inbox.handle, pages, len(collected), created)
    return SyncResult(pages=pages, events_seen=len(collected), created=created, paused_until=paused_until)


def _ingest_keeping_the_rest(account: XAccount, events: list[DmEvent]) -> tuple[list[IngestResult], list[str]]:
    """Ingest ``events``; one that cannot be stored is left out, named (``event <id>: <why>``), and the others
    are stored: a DM that cannot be stored must not stop every poll that reads it. Database failures that
    roll the transaction back still raise."""
    left_out: list[str] = []

    def leave_out(event: DmEvent, exc: Exception) -> None:
        log.error("Left out X event %s of @%s: %s", event.x_event_id, account.inbox.handle, exc)
        left_out.append(f"event {event.x_event_id}: {exc}")

    return account_events_ingest(account=account, events=events, on_error=leave_out), left_out


def _left_out_note(left_out: list[str]) -> str:
    """What the health page shows of events a poll could not store ("" when none)."""
    if not left_out:
        return ""
    return f"Left out {len(left_out)} event(s) X sent that cannot be stored: " + "; ".join(left_out[:5])


def _last_page(page: parsing.LookupPage, token: str | None) -> bool:
    # X sends a next_token even on a short last page (x-api.md §3.3): only an empty page or no token ends.
    return not page.listed or page.result_count == 0 or not page.next_token or page.next_token == token


def _reaches_stored(account: XAccount, events: list[DmEvent]) -> bool:
    if not events:
        return False
    oldest = min(events, key=lambda e: (e.created_at, int(e.x_event_id)))
    return Message.objects.filter(conversation__inbox_id=account.inbox_id, x_event_id=oldest.x_event_id).exists()


def _windows(rate: RateLimit) -> list[tuple[int | None, datetime | None]]:
    found = [(rate.remaining, rate.reset_at)]
    found += [(w.remaining, w.reset_at) for w in (rate.user_24h, rate.app_24h) if w is not None]
    return found


def _exhausted(rate: RateLimit) -> bool:
    return any(remaining is not None and remaining <= 0 for remaining, _ in _windows(rate))


def _pause_until(rate: RateLimit | None) -> datetime | None:
    """X's reset of every window with ``POLL_RESERVE`` or fewer requests left (the latest), else None."""
    if rate is None:
        return None
    low = [reset for remaining, reset in _windows(rate) if remaining is not None and remaining <= POLL_RESERVE]
    if not low:
        return None
    resets = [reset for reset in low if reset is not None]
    return max(resets) if resets else rate.reopens_at()


def _poll_failed(
    account: XAccount, pages: int, collected: list[DmEvent], *, error: str, resume_at: datetime | None = None
) -> SyncResult:
    fields: dict[str, object] = {"last_poll_error": error}
    if resume_at is not None:
        fields["poll_resume_at"] = resume_at
    XAccount.objects.filter(pk=account.pk).update(**fields)
    log.warning("Poll of @%s stopped after %d pages: %s", account.inbox.handle, pages, error)
    return SyncResult(
        pages=pages, events_seen=len(collected), created=0, complete=False, error=error, paused_until=resume_at
    )


def accounts_due_for_poll(*, now: datetime | None = None) -> QuerySet[XAccount]:
    """Connected accounts not polled for ``X_POLL_INTERVAL`` seconds that X's rate limit lets us poll."""
    now = now or timezone.now()
    interval = timedelta(seconds=settings.X_POLL_INTERVAL)
    return (
        XAccount.objects.filter(status=XAccount.Status.CONNECTED)
        .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - interval))
        .filter(Q(poll_resume_at__isnull=True) | Q(poll_resume_at__lte=now))
        .order_by("last_polled_at", "pk")
    )


def poll_queued_key(account_id: int) -> str:
    return f"twitter_channel:poll-queued:{account_id}"


def account_poll_claim(*, account_id: int) -> bool:
    """True at most once per ``X_POLL_INTERVAL`` per account, across every process (the cache is Redis).

    Beat asks every 15 s; without the claim an account whose poll is still queued, or keeps failing
    (X down), would be enqueued again at every tick.
    """
    return cache.add(poll_queued_key(account_id), timezone.now().isoformat(), timeout=max(settings.X_POLL_INTERVAL, 1))
