"""Pulling DMs from X: the 30-day backfill after connecting (and, later, the poll that closes gaps).

``GET /2/dm_events`` lists newest first. Pages are read until they go past the window, then the events
are handed to the inbox oldest first, each in its own transaction; ingestion is idempotent on X's event
id, so running a backfill twice, or beside webhooks, stores every message once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from inbox.dm_events import DmEvent
from inbox.services.ingest import dm_events_ingest
from twitter_channel import parsing
from twitter_channel.models import XAccount
from twitter_channel.tokens import client_for
from twitter_channel.x_results import DmEventPage

log = logging.getLogger(__name__)
BACKFILL_DAYS = 30


@dataclass(frozen=True)
class SyncResult:
    pages: int
    events_seen: int
    created: int


def _includes(page: DmEventPage) -> dict[str, list[dict]]:
    return {
        "users": [user.raw for user in page.users.values()],
        "media": [media.raw for media in page.media.values()],
        "tweets": [post.raw for post in page.posts.values()],
    }


def _events(page: DmEventPage) -> list[DmEvent]:
    includes = _includes(page)
    events = []
    for raw in page.events:
        try:
            events.append(parsing.parse_v2_event(raw.raw, includes=includes))
        except parsing.PayloadError as exc:
            log.warning("Skipped a DM event X sent in a shape we do not understand: %s", exc)
    return events


def account_backfill(*, account_id: int, days: int = BACKFILL_DAYS, page_size: int = 100) -> SyncResult:
    """Import the account's DM events of the last ``days`` days (X keeps 30 on this endpoint)."""
    account = XAccount.objects.select_related("inbox").get(pk=account_id)
    since: datetime = timezone.now() - timedelta(days=days)
    collected: list[DmEvent] = []
    pages = 0
    for page in client_for(account).dm_events_pages(max_results=page_size):
        pages += 1
        events = _events(page)
        collected.extend(e for e in events if e.created_at >= since)
        if events and min(e.created_at for e in events) < since:
            break
    results = dm_events_ingest(inbox=account.inbox, events=collected)
    created = sum(1 for r in results if r.created)
    log.info("Backfilled @%s: %d pages, %d events, %d new", account.inbox.handle, pages, len(collected), created)
    return SyncResult(pages=pages, events_seen=len(collected), created=created)
