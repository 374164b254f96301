"""The collision guard: a reply is held when the customer or another agent wrote after the agent opened the
conversation, until they send it anyway."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbox.models import Message
from inbox.services.ingest import dm_event_ingest
from inbox.services.replies import reply_create
from tests.factories import BASE_TIME, dm, make_agent, make_inbox, minutes

pytestmark = pytest.mark.django_db
FRAGMENT = {"X-Fragment": "1"}


@pytest.fixture
def opened(client):
    alice, bob = make_agent(name="Alice Agent"), make_agent(name="Bob Agent")
    inbox = make_inbox(members=(alice, bob))
    first = dm_event_ingest(inbox=inbox, event=dm(inbox, "111", text="hello")).message
    client.force_login(alice)
    return alice, bob, inbox, first


def send(client, conversation_id: int, *, seen: int, token: str, anyway: bool = False):
    data = {"text": "Our answer", "client_token": token, "seen_up_to": str(seen)}
    if anyway:
        data["send_anyway"] = "1"
    return client.post(reverse("inbox:reply", args=[conversation_id]), data, headers=FRAGMENT)


def test_a_customer_message_after_opening_holds_the_reply_until_sent_anyway(client, opened):
    alice, _, inbox, first = opened
    dm_event_ingest(inbox=inbox, event=dm(inbox, "111", text="actually, never mind", at=BASE_TIME + minutes(1)))

    held = send(client, first.conversation_id, seen=first.pk, token="t1")
    sent = send(client, first.conversation_id, seen=first.pk, token="t1", anyway=True)

    assert held.status_code == 409
    assert held.content.decode() == "New message from the customer since you opened this conversation. Send anyway?"
    assert sent.status_code == 200
    assert Message.objects.filter(direction="outbound").count() == 1


def test_another_agents_reply_holds_it_but_the_agents_own_earlier_reply_does_not(client, opened):
    alice, bob, _, first = opened
    reply_create(conversation_id=first.conversation_id, author=alice, text="first answer", client_token="a1")

    own = send(client, first.conversation_id, seen=first.pk, token="a2")
    reply_create(conversation_id=first.conversation_id, author=bob, text="Bob here", client_token="b1")
    latest_seen = Message.objects.filter(direction="outbound", sender_agent=alice).order_by("pk").last().pk
    held = send(client, first.conversation_id, seen=latest_seen, token="a3")

    assert own.status_code == 200
    assert held.status_code == 409
    assert held.content.decode() == "Bob Agent replied since you opened this conversation. Send anyway?"
    up_to_date = send(client, first.conversation_id, seen=Message.objects.latest("pk").pk, token="a3")
    assert up_to_date.status_code == 200
