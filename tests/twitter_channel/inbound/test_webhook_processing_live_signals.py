"""Live signals from webhook deliveries: a customer typing is published to the inbox, a customer's read
receipt is stored and published as seen, and nobody else's typing or reading is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from inbox.models import Conversation, Message
from tests.twitter_channel.inbound.webhook_deliveries import (
    FIRST_ID,
    T0_MS,
    aaa,
    account_for,
    consumer_secret,
    deliver,
    message,
)
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, fixture_json
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db
__all__ = ["consumer_secret"]  # the autouse fixture, from webhook_deliveries


def typing(*, sender: str = CUSTOMER_ID, to: str = BUSINESS_ID, at_ms: int = T0_MS) -> dict[str, Any]:
    return {"created_timestamp": str(at_ms), "sender_id": sender, "target": {"recipient_id": to}}


def read(last_read_event_id: int | str, *, reader: str = CUSTOMER_ID, other: str = BUSINESS_ID, at_ms: int = T0_MS):
    return {**typing(sender=reader, to=other, at_ms=at_ms), "last_read_event_id": str(last_read_event_id)}


# -- typing and read receipts ---------------------------------------------------------------------


def test_a_customer_typing_is_published_live_to_the_inbox(client: Client, published):
    # given a conversation with the customer
    account = account_for()
    deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="Hi")]))
    conversation = Conversation.objects.get(inbox=account.inbox)
    published.clear()

    # when the customer types
    delivery = deliver(client, aaa(direct_message_indicate_typing_events=[typing(at_ms=T0_MS + 5000)]))

    # then
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert [(group, message["event"]) for group, message in published.sent] == [
        (f"inbox.{account.inbox_id}", "customer.typing")
    ]
    assert published.of("customer.typing") == [
        {
            "conversation_id": conversation.pk,
            "inbox_id": account.inbox_id,
            "x_user_id": CUSTOMER_ID,
            "contact_id": conversation.contact_id,
            "at": "2026-11-01T12:00:05+00:00",
        }
    ]


def test_typing_that_is_not_a_customer_of_ours_is_ignored_safely(client: Client, published):
    # given a conversation with the customer
    account_for(x_user_id="4337869213")
    deliver(
        client, aaa(for_user_id="4337869213", direct_message_events=[message(FIRST_ID, text="Hi", to="4337869213")])
    )
    published.clear()

    # when X sends typing by two other users (its docs example), by our own account, and in a conversation we lack
    others = deliver(client, fixture_json("aaa_direct_message_indicate_typing_events.docs.json"))
    ourselves = deliver(
        client,
        aaa(
            for_user_id="4337869213",
            direct_message_indicate_typing_events=[typing(sender="4337869213", to=CUSTOMER_ID)],
        ),
    )
    unknown = deliver(
        client,
        aaa(for_user_id="4337869213", direct_message_indicate_typing_events=[typing(sender="77", to="4337869213")]),
    )

    # then nothing reaches agents, and the deliveries say why
    assert published.sent == []
    for delivery in (others, ourselves, unknown):
        assert delivery.status == WebhookDelivery.Status.PROCESSED
        assert "1 of 1 typing event(s) were not a customer" in delivery.detail


def test_a_customer_read_receipt_is_stored_and_published_as_seen(client: Client, published):
    # given our two messages in a conversation
    account = account_for()
    deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="Hi")]))
    ours = [
        message(FIRST_ID + 4096 * i, text=f"reply {i}", sender=BUSINESS_ID, to=CUSTOMER_ID, at_ms=T0_MS + i)
        for i in (1, 2)
    ]
    deliver(client, aaa(direct_message_events=ours))
    second = Message.objects.get(x_event_id=str(FIRST_ID + 4096 * 2))
    published.clear()

    # when the customer reads up to the second
    deliver(client, aaa(direct_message_mark_read_events=[read(second.x_event_id, at_ms=T0_MS + 9000)]))

    # then it is stored and pushed
    conversation = Conversation.objects.get(inbox=account.inbox)
    assert conversation.customer_read_event_id == second.x_event_id
    assert conversation.customer_read_at == datetime(2026, 11, 1, 12, 0, 9, tzinfo=UTC)
    assert published.of("customer.seen") == [
        {
            "conversation_id": conversation.pk,
            "inbox_id": account.inbox_id,
            "last_read_event_id": second.x_event_id,
            "message_id": second.pk,
            "read_at": "2026-11-01T12:00:09+00:00",
        }
    ]

    # when an older receipt arrives late, and the same one again
    published.clear()
    late = deliver(client, aaa(direct_message_mark_read_events=[read(FIRST_ID + 4096, at_ms=T0_MS + 8000)]))
    again = deliver(client, aaa(direct_message_mark_read_events=[read(second.x_event_id, at_ms=T0_MS + 9000)]))

    # then "seen" does not move back and nothing is pushed
    conversation.refresh_from_db()
    assert conversation.customer_read_event_id == second.x_event_id
    assert published.sent == []
    assert "1 of 1 read receipt(s)" in late.detail and "1 of 1 read receipt(s)" in again.detail


def test_our_own_read_receipts_and_other_peoples_are_not_seen(client: Client, published):
    account = account_for(x_user_id="3001969357")
    deliver(
        client, aaa(for_user_id="3001969357", direct_message_events=[message(FIRST_ID, text="Hi", to="3001969357")])
    )
    published.clear()

    ours = deliver(
        client,
        aaa(
            for_user_id="3001969357",
            direct_message_mark_read_events=[read(FIRST_ID, reader="3001969357", other=CUSTOMER_ID)],
        ),
    )
    docs = deliver(
        client, fixture_json("aaa_direct_message_mark_read_events.docs.json") | {"for_user_id": "3001969357"}
    )

    assert published.sent == []
    assert Conversation.objects.get(inbox=account.inbox).customer_read_event_id == ""
    assert ours.status == docs.status == WebhookDelivery.Status.PROCESSED
