"""Fetch DMs from X now, without waiting for beat: a poll, or with ``--since`` a backfill from that moment.

python manage.py sync_dms                          # poll every connected account
python manage.py sync_dms --account @AcmeSupport   # one account, by handle or X user id
python manage.py sync_dms --since 7d               # re-read the last 7 days (also 12h, or 2026-11-01)
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from twitter_channel.inbound import sync
from twitter_channel.models import XAccount
from twitter_channel.x.errors import XError

RELATIVE = re.compile(r"^(\d+)\s*([dh])$", re.IGNORECASE)


def parse_since(value: str, *, now: datetime) -> datetime:
    """``7d``, ``12h``, ``2026-11-01`` (midnight, in TIME_ZONE) or an ISO date-time; never in the future."""
    text = value.strip()
    relative = RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        if amount == 0:
            raise CommandError(f"--since {value!r}: give at least 1{unit}.")
        return now - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        moment = datetime.combine(date.fromisoformat(text), time.min)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(
                f"--since {value!r} is not understood: use a number of days or hours (7d, 12h) or a date (2026-11-01)."
            ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > now:
        raise CommandError(f"--since {value!r} is in the future.")
    return moment


def find_account(value: str) -> XAccount:
    """An account by ``@handle``, ``handle`` or X user id."""
    key = value.strip().removeprefix("@")
    accounts = XAccount.objects.select_related("inbox")
    found = (key.isdigit() and accounts.filter(inbox__x_user_id=key).first()) or accounts.filter(
        inbox__handle__iexact=key
    ).first()
    if not key or found is None:
        known = ", ".join(f"@{h}" for h in XAccount.objects.values_list("inbox__handle", flat=True)) or "none"
        raise CommandError(f"No X account {value!r} here. Known accounts: {known}.")
    return found


class Command(BaseCommand):
    help = (
        "Fetch DMs from X now: poll (what the webhook may have missed), or with --since re-read everything "
        "since then. X keeps 30 days on GET /2/dm_events."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="@handle or X user id (default: every connected account).")
        parser.add_argument("--since", help="Backfill from then instead of polling: 7d, 12h or 2026-11-01.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        since = parse_since(options["since"], now=now) if options["since"] else None
        if since is not None and since < now - timedelta(days=sync.BACKFILL_DAYS):
            self.stderr.write(f"X lists only the last {sync.BACKFILL_DAYS} days of DMs; older ones cannot be fetched.")
        if options["account"]:
            accounts = [find_account(options["account"])]
        else:
            accounts = list(XAccount.objects.filter(status=XAccount.Status.CONNECTED).select_related("inbox"))
            if not accounts:
                self.stdout.write("No connected X account: nothing to fetch.")
                return
        failed = [account for account in accounts if not self._sync(account, since)]
        if failed:
            handles = ", ".join(f"@{a.inbox.handle}" for a in failed)
            raise CommandError(f"Fetching failed for {handles}.")

    def _sync(self, account: XAccount, since: datetime | None) -> bool:
        handle = f"@{account.inbox.handle}"
        try:
            if since is None:
                result = sync.account_poll(account_id=account.pk)
                what = "polled X"
            else:
                result = sync.account_backfill(account_id=account.pk, since=since)
                what = f"read X back to {timezone.localtime(since):%Y-%m-%d %H:%M %Z}"
        except XError as exc:
            self.stderr.write(f"{handle}: {exc}")
            return False
        if result.error:
            self.stderr.write(f"{handle}: {result.error}")
            return False
        pages = f"{result.pages} page{'s' if result.pages != 1 else ''}"
        self.stdout.write(
            f"{handle}: {what} ({pages}): {result.events_seen} events, "
            f"{result.created} new message{'s' if result.created != 1 else ''} imported."
        )
        if result.paused_until is not None:
            until = timezone.localtime(result.paused_until)
            self.stdout.write(f"{handle}: X's rate limit is nearly used up; polling pauses until {until:%H:%M:%S %Z}.")
        return True
