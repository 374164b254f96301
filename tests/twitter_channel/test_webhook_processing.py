"""Processing of stored webhook deliveries: exactly once, in X's order, every event of a delivery, live signals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone

from inbox.models import Conversation, Message
from tests.factories import make_agent, make_inbox
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, fixture_json
from twitter_channel import deliveries
from twitter_channel.deliveries import delivery_process
from twitter_channel.models import WebhookDelivery, XAccount

pytestmark = pytest.mark.django_db

URL = "/twitter/webhook/"
SECRET = "consumer-secret-for-tests"
T0_MS = 1_793_534_400_000  # 2026-11-01 12:00 UTC
FIRST_ID = 1_860_000_000_000_000_000


@pytest.fixture(autouse=True)
def consumer_secret(settings):
    settings.X_CONSUMER_SECRET = SECRET


def account_for(x_user_id: str = BUSINESS_ID, status: str = XAccount.Status.CONNECTED) -> XAccount:
    now = timezone.now()
    return XAccount.objects.create(
        inbox=make_inbox(x_user_id=x_user_id), status=status, status_changed_at=now, connected_at=now
    )


def message(event_id: int | str, *, text: str, at_ms: int = T0_MS, sender: str = CUSTOMER_ID, to: str = BUSINESS_ID):
    return {
        "type": "message_create",
        "id": str(event_id),
        "created_timestamp": str(at_ms),
        "message_create": {
            "target": {"recipient_id": to},
            "sender_id": sender,
            "message_data": {
                "text": text,
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
            },
        },
    }


def typing(*, sender: str = CUSTOMER_ID, to: str = BUSINESS_ID, at_ms: int = T0_MS) -> dict[str, Any]:
    return {"created_timestamp": str(at_ms), "sender_id": sender, "target": {"recipient_id": to}}


def read(last_read_event_id: int | str, *, reader: str = CUSTOMER_ID, other: str = BUSINESS_ID, at_ms: int = T0_MS):
    return {**typing(sender=reader, to=other, at_ms=at_ms), "last_read_event_id": str(last_read_event_id)}


def aaa(*, for_user_id: str = BUSINESS_ID, **families: Any) -> dict[str, Any]:
    return {"for_user_id": for_user_id, **families}


def deliver(client: Client, payload: dict[str, Any] | bytes) -> WebhookDelivery:
    """POST a signed delivery as X does, run what the commit enqueues (Celery is eager), return the row."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            URL, data=body, content_type="application/json", headers={"x-twitter-webhooks-signature": signature}
        )
    assert response.status_code == 200, response.content
    return WebhookDelivery.objects.get(pk=response.json()["delivery_id"])


def thread(account: XAccount) -> list[str]:
    conversation = Conversation.objects.get(inbox=account.inbox)
    return list(Message.objects.filter(conversation=conversation).values_list("text", flat=True))


# -- exactly once, in X's order -------------------------------------------------------------------


def test_the_same_delivery_posted_five_times_is_one_message(client: Client, published):
    # given
    account = account_for()
    payload = aaa(direct_message_events=[message(FIRST_ID, text="Where is my parcel?")])

    # when X delivers it five times (its retries, or a replay)
    rows = [deliver(client, payload) for _ in range(5)]

    # then
    assert [row.status for row in rows] == ["processed"] * 5
    assert [row.messages_created for row in rows] == [1, 0, 0, 0, 0]
    assert thread(account) == ["Where is my parcel?"]
    assert len(published.of("message.created")) == 1


def test_thirty_deliveries_in_shuffled_order_make_the_thread_in_x_order(client: Client):
    # given 30 messages, back and forth, one delivery each; two share a millisecond (X's ids break the tie)
    account = account_for()
    times = [T0_MS + 1000 * i for i in range(30)]
    times[11] = times[10]
    payloads = [
        aaa(
            direct_message_events=[
                message(FIRST_ID + 4096 * i, text=f"message {i}", at_ms=times[i])
                if i % 3
                else message(
                    FIRST_ID + 4096 * i, text=f"message {i}", at_ms=times[i], sender=BUSINESS_ID, to=CUSTOMER_ID
                )
            ]
        )
        for i in range(30)
    ]
    shuffled = payloads[:]
    random.Random(5).shuffle(shuffled)
    assert shuffled != payloads

    # when they arrive shuffled
    for payload in shuffled:
        deliver(client, payload)

    # then the thread is in X's order and the conversation shows the newest message
    assert thread(account) == [f"message {i}" for i in range(30)]
    conversation = Conversation.objects.get(inbox=account.inbox)
    assert conversation.last_message_preview == "message 29"
    assert conversation.needs_reply is True


def test_the_echo_of_our_own_send_is_confirmed_not_duplicated(client: Client, published):
    # given a customer's message, and our reply that X accepted (id 2002) but has not echoed yet
    account = account_for()
    deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="Hi")]))
    conversation = Conversation.objects.get(inbox=account.inbox)
    ours = Message.objects.create(
        conversation=conversation,
        x_event_id=str(FIRST_ID + 4096),
        direction=Message.Direction.OUTBOUND,
        sender_agent=make_agent(),
        text="Hello! How can we help?",
        occurred_at=timezone.now(),
        delivery_state=Message.DeliveryState.SENT,
    )
    published.clear()

    # when X echoes it by webhook
    echo = message(FIRST_ID + 4096, text="Hello! How can we help?", sender=BUSINESS_ID, to=CUSTOMER_ID, at_ms=T0_MS + 1)
    delivery = deliver(client, aaa(direct_message_events=[echo]))

    # then
    assert delivery.messages_created == 0
    assert thread(account) == ["Hi", "Hello! How can we help?"]
    ours.refresh_from_db()
    assert ours.x_confirmed_at is not None
    assert [data["message_id"] for data in published.of("message.updated")] == [ours.pk]


# -- every event of a delivery --------------------------------------------------------------------


def test_a_malformed_event_is_recorded_and_the_good_one_kept(client: Client):
    # given a delivery with a good event and one without its sender
    account = account_for()
    bad = message(FIRST_ID + 4096, text="lost")
    del bad["message_create"]["sender_id"]

    # when
    delivery = deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="kept"), bad]))

    # then
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert delivery.dm_events == 1
    assert delivery.messages_created == 1
    assert "direct_message_events[1].message_create.sender_id: missing" in delivery.detail
    assert thread(account) == ["kept"]


def test_every_event_of_a_delivery_is_stored(client: Client):
    account = account_for()
    events = [message(FIRST_ID + 4096 * i, text=f"part {i}", at_ms=T0_MS + i) for i in range(4)]

    delivery = deliver(client, aaa(direct_message_events=events))

    assert (delivery.dm_events, delivery.messages_created) == (4, 4)
    assert thread(account) == ["part 0", "part 1", "part 2", "part 3"]


def test_an_event_that_cannot_be_stored_fails_the_delivery_which_can_be_processed_again(
    client: Client, monkeypatch: pytest.MonkeyPatch
):
    # given the store refuses one event of two
    account = account_for()
    real_ingest = deliveries.account_events_ingest

    def flaky(*, account: XAccount, events: list) -> list:
        if events[0].x_event_id == str(FIRST_ID):
            raise ValueError("storage refused it")
        return real_ingest(account=account, events=events)

    monkeypatch.setattr(deliveries, "account_events_ingest", flaky)
    payload = aaa(direct_message_events=[message(FIRST_ID, text="one"), message(FIRST_ID + 4096, text="two")])

    # when
    delivery = deliver(client, payload)

    # then the other is stored, and the delivery says what was not
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert f"event {FIRST_ID}: ValueError: storage refused it" in delivery.detail
    assert thread(account) == ["two"]

    # when it is processed again once the store works
    monkeypatch.setattr(deliveries, "account_events_ingest", real_ingest)
    with TestCase.captureOnCommitCallbacks(execute=True):
        again = delivery_process(delivery_id=delivery.pk)

    # then both are there, once each
    assert again.status == WebhookDelivery.Status.PROCESSED
    assert (again.attempts, again.messages_created) == (2, 1)
    assert thread(account) == ["one", "two"]


def test_a_body_the_parser_cannot_read_fails_and_is_kept_for_replay(client: Client):
    account_for()
    body = json.dumps({"for_user_id": BUSINESS_ID, "direct_message_events": {"not": "a list"}}).encode()

    delivery = deliver(client, body)

    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "direct_message_events: expected a list, got an object" in delivery.detail
    assert delivery.body.encode() == body
    assert Message.objects.count() == 0


def test_a_one_to_one_event_not_involving_the_account_is_not_stored(client: Client):
    account_for()
    stranger = message(FIRST_ID, text="not ours", sender="11", to="12")

    delivery = deliver(client, aaa(direct_message_events=[stranger]))

    assert Message.objects.count() == 0
    assert f"event {FIRST_ID}: conversation 11-12 is not" in delivery.detail


# -- routing --------------------------------------------------------------------------------------


def test_a_delivery_for_an_unknown_account_is_ignored(client: Client):
    account_for()

    delivery = deliver(client, aaa(for_user_id="999", direct_message_events=[message(FIRST_ID, text="?", to="999")]))

    assert delivery.status == WebhookDelivery.Status.IGNORED
    assert delivery.for_user_id == "999"
    assert delivery.account is None
    assert "No X account with user id 999" in delivery.detail
    assert Message.objects.count() == 0


def test_a_delivery_for_an_account_that_needs_reconnecting_is_ignored_but_counts_as_heard(client: Client):
    account = account_for(status=XAccount.Status.NEEDS_RECONNECTION)

    delivery = deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="hello?")]))

    assert delivery.status == WebhookDelivery.Status.IGNORED
    assert delivery.account == account
    assert "needs reconnection" in delivery.detail
    assert Message.objects.count() == 0
    account.refresh_from_db()
    assert account.last_webhook_at == delivery.received_at


def test_processing_sets_the_accounts_last_webhook_time_forward_only(client: Client):
    account = account_for()
    later = datetime(2099, 1, 1, tzinfo=UTC)

    first = deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="a")]))
    account.refresh_from_db()
    assert account.last_webhook_at == first.received_at

    XAccount.objects.filter(pk=account.pk).update(last_webhook_at=later)
    deliver(client, aaa(direct_message_events=[message(FIRST_ID + 4096, text="b")]))
    account.refresh_from_db()
    assert account.last_webhook_at == later


def test_families_we_do_not_handle_and_bodies_without_an_account_are_ignored_and_named(client: Client):
    account_for(x_user_id="930524282358325248")

    deleted = deliver(client, fixture_json("aaa_tweet_delete_events.docs.json"))
    revoke = deliver(client, fixture_json("aaa_user_event_revoke.docs.json"))

    assert deleted.status == WebhookDelivery.Status.PROCESSED
    assert "tweet_delete_events" in deleted.detail
    assert revoke.status == WebhookDelivery.Status.IGNORED
    assert "names no subscribed account" in revoke.detail
    assert "user_event" in revoke.detail


# -- fixtures of real payloads --------------------------------------------------------------------


def test_the_account_activity_docs_payload_is_processed(client: Client):
    account = account_for(x_user_id="4337869213")

    delivery = deliver(client, fixture_json("aaa_direct_message_events.docs.json"))

    assert (delivery.status, delivery.dm_events, delivery.messages_created) == ("processed", 1, 1)
    stored = Message.objects.get()
    assert (stored.text, stored.direction, stored.x_event_id) == ("Hello World!", "inbound", "954491830116155396")
    assert stored.sender_contact.handle == "furiouscamper"
    assert stored.conversation.inbox == account.inbox


def test_the_x_activity_envelopes_are_processed(client: Client):
    account = account_for(x_user_id="1111111111111111111")

    received = deliver(client, fixture_json("xaa_dm_received.docs.json"))
    sent = deliver(client, fixture_json("xaa_dm_sent.docs.json"))

    assert (received.status, received.for_user_id, received.messages_created) == (
        "processed",
        account.inbox.x_user_id,
        1,
    )
    assert sent.status == "processed"
    texts = {m.x_event_id: (m.text, m.direction) for m in Message.objects.filter(conversation__inbox=account.inbox)}
    assert texts == {
        "2080765901528535096": ("hello!", "inbound"),
        "2080763914820927863": ("Thanks for the update!", "outbound"),
    }


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


# -- safe to run twice ----------------------------------------------------------------------------


def test_processing_a_processed_delivery_again_changes_nothing(client: Client, published):
    account_for()
    delivery = deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="once")]))
    published.clear()

    with TestCase.captureOnCommitCallbacks(execute=True):
        again = delivery_process(delivery_id=delivery.pk)

    assert (again.status, again.attempts, again.messages_created) == ("processed", 1, 1)
    assert again.processed_at == delivery.processed_at
    assert published.sent == []
    assert delivery_process(delivery_id=10**9) is None


@pytest.mark.django_db(transaction=True)
def test_two_workers_processing_one_delivery_at_once_ingest_it_once(monkeypatch: pytest.MonkeyPatch):
    if connection.vendor != "postgresql":
        pytest.fail("Row locks need PostgreSQL (SQLite ignores SELECT ... FOR UPDATE); run with DATABASE_URL set.")
    # given a stored delivery, and an ingest slow enough for the two runs to overlap
    account_for()
    delivery = WebhookDelivery.objects.create(
        received_at=timezone.now(), body=json.dumps(aaa(direct_message_events=[message(FIRST_ID, text="x")]))
    )
    calls: list[int] = []
    real_ingest = deliveries.account_events_ingest

    def slow(**kwargs: Any) -> list:
        calls.append(1)
        time.sleep(0.5)
        return real_ingest(**kwargs)

    monkeypatch.setattr(deliveries, "account_events_ingest", slow)

    # when two workers run it at the same time
    def run() -> None:
        try:
            delivery_process(delivery_id=delivery.pk)
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)

    # then one of them did the work and the other found it done
    delivery.refresh_from_db()
    assert calls == [1]
    assert (delivery.status, delivery.attempts, delivery.messages_created) == ("processed", 1, 1)
    assert Message.objects.count() == 1


def test_an_event_the_database_refuses_does_not_lose_the_rest_of_the_delivery(client: Client):
    # given a DM whose text PostgreSQL cannot store (a NUL character), between two good ones
    if connection.vendor != "postgresql":
        pytest.fail("Only PostgreSQL refuses NUL characters in text; run with DATABASE_URL set.")
    account = account_for()
    events = [
        message(FIRST_ID, text="before", at_ms=T0_MS),
        message(FIRST_ID + 4096, text="nul \u0000 inside", at_ms=T0_MS + 1),
        message(FIRST_ID + 8192, text="after", at_ms=T0_MS + 2),
    ]

    # when
    delivery = deliver(client, aaa(direct_message_events=events))

    # then the endpoint answered 200 (deliver checks it), the others are stored, the failure is on record
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert f"event {FIRST_ID + 4096}: DataError" in delivery.detail
    assert thread(account) == ["before", "after"]
