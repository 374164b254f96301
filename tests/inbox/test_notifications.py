"""Notifications: @mentions in notes and assignments reach the right agents, stored and pushed live."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from inbox.models import Notification
from inbox.services.assignment import conversation_assign
from inbox.services.ingest import dm_event_ingest
from inbox.services.notes import note_create
from tests.factories import dm, make_agent, make_inbox, make_team

pytestmark = pytest.mark.django_db


def test_a_note_notifies_the_agents_and_teams_it_mentions_who_work_the_inbox(
    published, django_capture_on_commit_callbacks
):
    alice = make_agent(email="alice@example.test", name="Alice Agent")
    bob = make_agent(email="bob@example.test", name="Bob Builder")
    carol = make_agent(email="carol@example.test", name="Carol")
    outsider = make_agent(email="olga@example.test", name="Olga")
    billing = make_team(members=(carol,))
    billing.name = "Billing Team"
    billing.save()
    inbox = make_inbox(members=(alice, bob), teams=(billing,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation

    with django_capture_on_commit_callbacks(execute=True):
        note_create(
            conversation_id=conversation.pk, author=alice,
            body="@BobBuilder and @billingteam, can you check? cc @alice @olga (email: x@bob)",
        )  # fmt: skip

    notified = {n.user for n in Notification.objects.all()}
    assert notified == {bob, carol}  # not the author, not someone outside the inbox, not an email address
    assert Notification.objects.get(user=bob).text.startswith("Alice Agent mentioned you: @BobBuilder")
    pushed = {group for group, message in published.sent if message["event"] == "notification.created"}
    assert pushed == {f"agent.{bob.pk}", f"agent.{carol.pk}"}
    assert outsider not in notified


def test_an_assignment_notifies_the_new_assignee_unless_they_took_it_themselves(client):
    lead = make_agent(role=User.Role.LEAD, name="Lena Lead")
    bob = make_agent(name="Bob Agent")
    inbox = make_inbox(members=(lead, bob))
    first = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation
    second = dm_event_ingest(inbox=inbox, event=dm(inbox, "222")).message.conversation

    conversation_assign(conversation_id=first.pk, assignee=bob, actor=lead)
    conversation_assign(conversation_id=second.pk, assignee=bob, actor=bob)

    assert list(Notification.objects.values_list("user", "kind", "conversation")) == [(bob.pk, "assigned", first.pk)]
    client.force_login(bob)
    page = client.get(reverse("inbox:notifications")).content.decode()
    assert "Lena Lead assigned you the conversation with" in page
    assert 'id="bell-count">1<' in page
    client.post(reverse("inbox:notifications_read"))
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert 'id="bell-count" hidden>0<' in client.get(reverse("inbox:notifications")).content.decode()
