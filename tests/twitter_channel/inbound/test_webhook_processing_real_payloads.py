"""X's documented webhook payloads (Account Activity API and X Activity API envelopes) processed end to end."""

from __future__ import annotations

import pytest
from django.test import Client

from inbox.models import Message
from tests.twitter_channel.inbound.webhook_deliveries import account_for, consumer_secret, deliver
from tests.xsandbox import fixture_json

pytestmark = pytest.mark.django_db
__all__ = ["consumer_secret"]  # the autouse fixture, from webhook_deliveries


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
