"""Connecting an account imports its DMs of the last 30 days from the sandbox, once."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from inbox.models import Conversation, Message
from tests.twitter_channel.conftest import callback_path, start_connect
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID
from twitter_channel.inbound.sync import account_backfill
from twitter_channel.models import XAccount
from twitter_channel.tasks import dm_backfill

pytestmark = pytest.mark.django_db


def customer_writes(sandbox, text: str, customer: str = CUSTOMER_ID) -> str:
    return sandbox.control("POST", f"users/{customer}/messages", {"to": BUSINESS_ID, "text": text})["dm_event_id"]


def test_connecting_imports_the_recent_dms_in_xs_order(x_sandbox, admin_client, django_capture_on_commit_callbacks):
    sent = [customer_writes(x_sandbox, f"Order #{n} is late") for n in range(1, 6)]
    sent.append(customer_writes(x_sandbox, "Hi from Kenji", customer="783214"))
    before = Message.objects.count()

    callback = start_connect(admin_client).answer("authorize")
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.get(callback_path(callback)).status_code == 302

    account = XAccount.objects.select_related("inbox").get()
    imported = Message.objects.filter(conversation__inbox=account.inbox, x_event_id__in=sent)
    assert imported.count() == len(sent) and Message.objects.count() - before >= len(sent)
    maria = Conversation.objects.get(inbox=account.inbox, x_conversation_id=f"{CUSTOMER_ID}-{BUSINESS_ID}")
    assert [m.text for m in maria.messages.filter(x_event_id__in=sent).order_by("x_created_at", "x_sequence")] == [
        f"Order #{n} is late" for n in range(1, 6)
    ]
    assert maria.contact.handle == "maria_codes" and maria.contact.name == "María Fernández"


def test_a_second_backfill_stores_nothing_twice_and_pages_through_everything(x_sandbox, settings):
    from tests.twitter_channel.connection.test_tokens import connect_through_sandbox

    for n in range(7):
        customer_writes(x_sandbox, f"message {n}")
    account = connect_through_sandbox(x_sandbox)
    total_at_x = len(account_backfill_events(x_sandbox))

    first = dm_backfill.apply(args=(account.pk,)).get()
    second = account_backfill(account_id=account.pk, page_size=3)

    assert first["events"] == total_at_x and first["created"] == total_at_x
    assert second.created == 0 and second.events_seen == total_at_x
    assert second.pages >= total_at_x // 3
    assert Message.objects.filter(conversation__inbox=account.inbox).count() == total_at_x


def account_backfill_events(sandbox) -> list[dict]:
    """What X itself lists for the business account (all pages)."""
    token, events, params = sandbox.token(), [], {"max_results": 100}
    while True:
        body = sandbox.api("GET", "/2/dm_events", token, params=params).json()
        events += body.get("data", [])
        if not body.get("meta", {}).get("next_token") or not body.get("data"):
            return events
        params["pagination_token"] = body["meta"]["next_token"]


def test_a_backfill_since_a_moment_imports_only_what_is_newer(x_sandbox):
    from tests.twitter_channel.connection.test_tokens import connect_through_sandbox

    account = connect_through_sandbox(x_sandbox)
    for n in range(2):
        customer_writes(x_sandbox, f"before {n}")
    since = timezone.now()
    time.sleep(0.01)  # X's times have millisecond precision
    after = [customer_writes(x_sandbox, f"after {n}") for n in range(3)]

    result = account_backfill(account_id=account.pk, since=since)

    assert (result.events_seen, result.created) == (3, 3)
    stored = Message.objects.filter(conversation__inbox=account.inbox)
    assert sorted(stored.values_list("x_event_id", flat=True)) == sorted(after)
