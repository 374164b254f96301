"""Canned responses: found by shortcut prefix for the conversation's inbox, placeholders filled as text."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbox.dm_events import XUserProfile
from inbox.models import CannedResponse
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox

pytestmark = pytest.mark.django_db


def test_suggestions_are_the_inboxs_and_everyones_with_placeholders_filled(client):
    agent = make_agent(name="Alice Agent")
    inbox, other = make_inbox(members=(agent,)), make_inbox()
    maria = XUserProfile(x_user_id="111", handle="maria_codes", name="<b>María</b>")
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111", profile=maria)).message.conversation
    body = "Hi {{contact.name}} ({{ contact.handle }}), {{agent.name}} from {{inbox.handle}}. {{order.id}} {% now %}"
    CannedResponse.objects.create(shortcut="refund", title="Refund", body=body)
    CannedResponse.objects.create(shortcut="refund-vip", title="VIP refund", body="Right away.", inbox=inbox)
    CannedResponse.objects.create(shortcut="refund-other", title="Theirs", body="Not yours.", inbox=other)
    CannedResponse.objects.create(shortcut="hello", title="Hello", body="Hello!")
    client.force_login(agent)

    found = client.get(reverse("inbox:canned", args=[conversation.pk]), {"q": "/REF"}).json()["suggestions"]

    assert [s["shortcut"] for s in found] == ["refund", "refund-vip"]
    assert found[0]["text"] == (
        f"Hi <b>María</b> (@maria_codes), Alice Agent from @{inbox.handle}. {{{{order.id}}}} {{% now %}}"
    )  # plain text: the page inserts it as text, unknown placeholders and template tags stay as written


def test_another_inboxs_conversation_has_no_canned_responses_for_you(client):
    agent = make_agent()
    theirs = make_inbox()
    conversation = dm_event_ingest(inbox=theirs, event=dm(theirs, "111")).message.conversation
    client.force_login(agent)

    assert client.get(reverse("inbox:canned", args=[conversation.pk]), {"q": "a"}).status_code == 404
