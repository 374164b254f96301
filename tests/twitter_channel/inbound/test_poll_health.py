"""Settings → X accounts shows each account's channel health: webhook deliveries, polls, their errors, X's pause."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.twitter_channel.inbound.test_poll import make_account
from twitter_channel.models import XAccount

pytestmark = pytest.mark.django_db


def row_of(admin_client, account: XAccount) -> str:
    page = admin_client.get("/settings/x-accounts/")
    assert page.status_code == 200
    match = re.search(rf'<tr data-x-account="{account.inbox.handle}">(.*?)</tr>', page.content.decode(), re.S)
    assert match, f"no row for @{account.inbox.handle}"
    return " ".join(match.group(1).split())  # (also turns timesince's no-break spaces into spaces)


def test_a_healthy_account_shows_its_last_delivery_and_poll(admin_client):
    now = timezone.now()
    account = make_account(last_webhook_at=now - timedelta(minutes=3), last_polled_at=now - timedelta(minutes=1))

    row = row_of(admin_client, account)

    assert "Last webhook delivery: <time" in row and "3 minutes ago" in row
    assert "Last poll: <time" in row and "1 minute ago" in row
    assert "Last poll failed" not in row and "paused" not in row


def test_an_account_never_reached_says_so(admin_client):
    row = row_of(admin_client, make_account())

    assert "Last webhook delivery: none yet" in row and "Last poll: not yet" in row


def test_a_failed_poll_and_xs_pause_are_shown_escaped(admin_client):
    resume = timezone.now() + timedelta(minutes=12)
    account = make_account(last_poll_error="GET /2/dm_events: 503 <b>Service Unavailable</b>", poll_resume_at=resume)

    row = row_of(admin_client, account)

    assert "Last poll failed: GET /2/dm_events: 503 &lt;b&gt;Service Unavailable&lt;/b&gt;" in row
    assert "Polling paused by X's rate limit until" in row
    assert f'<time datetime="{timezone.localtime(resume).isoformat()}">' in row
    assert timezone.localtime(resume).strftime("%H:%M") in row


def test_a_pause_that_is_over_is_not_shown(admin_client):
    account = make_account(poll_resume_at=timezone.now() - timedelta(seconds=5))

    assert "paused" not in row_of(admin_client, account)
