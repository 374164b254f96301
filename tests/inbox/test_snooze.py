"""Snoozing: until a time (woken by beat) or until the customer writes (woken by ingest)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox.models import Conversation, ConversationEvent
from inbox.services.conversations import conversation_status_set, snoozes_wake
from inbox.services.ingest import dm_event_ingest
from inbox.tasks import wake_snoozed_conversations
from tests.factories import dm, make_agent, make_inbox

pytestmark = pytest.mark.django_db


def snoozed(inbox, customer: str, *, minutes: float | None, agent) -> Conversation:
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, customer)).message.conversation
    until = timezone.now() + timedelta(minutes=minutes) if minutes is not None else None
    return conversation_status_set(conversation_id=conversation.pk, status="snoozed", actor=agent, snoozed_until=until)


def test_beat_wakes_only_the_snoozes_whose_time_has_come(published, django_capture_on_commit_callbacks):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    soon = snoozed(inbox, "111", minutes=1, agent=agent)
    later = snoozed(inbox, "222", minutes=90, agent=agent)
    until_they_write = snoozed(inbox, "333", minutes=None, agent=agent)

    with django_capture_on_commit_callbacks(execute=True):
        woken = snoozes_wake(now=timezone.now() + timedelta(minutes=2))

    assert woken == 1
    states = dict(Conversation.objects.values_list("pk", "status"))
    assert states == {soon.pk: "open", later.pk: "snoozed", until_they_write.pk: "snoozed"}
    assert Conversation.objects.get(pk=soon.pk).snoozed_until is None
    event = ConversationEvent.objects.filter(conversation=soon, kind="status_changed").last()
    assert (event.actor, event.parameters["old"], event.parameters["new"]) == (None, "snoozed", "open")
    assert published.events() == ["conversation.updated"]
    assert snoozes_wake(now=timezone.now() + timedelta(minutes=2)) == 0  # nothing twice


def test_the_beat_task_runs_the_service():
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    conversation = snoozed(inbox, "111", minutes=1, agent=agent)
    Conversation.objects.filter(pk=conversation.pk).update(snoozed_until=timezone.now() - timedelta(seconds=1))

    assert wake_snoozed_conversations.delay().get() == 1
    assert Conversation.objects.get(pk=conversation.pk).status == "open"


def test_the_customer_writing_wakes_a_snooze_without_a_time():
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    conversation = snoozed(inbox, "111", minutes=None, agent=agent)

    dm_event_ingest(inbox=inbox, event=dm(inbox, "111", text="any news?", at=timezone.now()))

    assert Conversation.objects.get(pk=conversation.pk).status == "open"


def test_the_snooze_menu_offers_times_and_the_view_accepts_them(client):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation
    client.force_login(agent)
    html = client.get(reverse("inbox:header", args=[conversation.pk])).content.decode()
    assert "For 1 hour" in html and "Until the customer writes" in html
    until = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)

    response = client.post(
        reverse("inbox:status", args=[conversation.pk]),
        {"status": "snoozed", "snoozed_until": until.isoformat()},
        headers={"X-Fragment": "1"},
    )

    assert response.status_code == 200 and "Snoozed until" in response.content.decode()
    assert Conversation.objects.get(pk=conversation.pk).snoozed_until == until
    past = client.post(
        reverse("inbox:status", args=[conversation.pk]),
        {"status": "snoozed", "snoozed_until": "2001-01-01T09:00:00+00:00"},
        headers={"X-Fragment": "1"},
    )
    assert past.status_code == 400 and past.content.decode() == "A snooze must end in the future."
