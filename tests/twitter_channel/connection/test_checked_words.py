"""The X accounts page says how long ago the webhook was checked in words: "just now", then plurals."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from inbox.templatetags.inbox_format import since
from twitter_channel.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("age", "words"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=61), "1 minute ago"),
        (timedelta(minutes=5, seconds=30), "5 minutes ago"),
        (timedelta(hours=1, minutes=20), "1 hour ago"),
        (timedelta(days=2, hours=3), "2 days ago"),
    ],
)
def test_since_says_just_now_then_counts_with_plurals(age: timedelta, words: str):
    assert since(timezone.now() - age).replace("\xa0", " ") == words


def test_a_webhook_checked_a_moment_ago_reads_checked_just_now(admin_client: Client, settings):
    # given a webhook X validated a few seconds ago, whose CRC we answered two minutes ago
    settings.X_WEBHOOK_URL = "https://backchannel.example.test/twitter/webhook/"
    now = timezone.now()
    WebhookEndpoint.objects.create(
        url=settings.X_WEBHOOK_URL, webhook_id="1", valid=True, validated_at=now - timedelta(seconds=3),
        last_crc_at=now - timedelta(minutes=2, seconds=5),
    )  # fmt: skip

    # when
    html = admin_client.get("/settings/x-accounts/").content.decode().replace("\xa0", " ")

    # then
    assert re.search(r"\(checked <time[^>]*>just now</time>\)", html)
    assert re.search(r"<time[^>]*data-last-crc>2 minutes ago</time>", html)
    assert "0 minutes" not in html
