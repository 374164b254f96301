"""The leads' report: queues now, conversations started and resolved in the period with median first reply
and resolution times, and per agent open load, replies and resolutions; leads see only their inboxes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from inbox.models import Conversation, Message
from inbox.services.conversations import conversation_status_set
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox

pytestmark = pytest.mark.django_db


def customer_writes(inbox, customer: str, at):
    return dm_event_ingest(inbox=inbox, event=dm(inbox, customer, at=at)).message.conversation


def answer(conversation, agent, at, event_id: str) -> None:
    dm_event_ingest(
        inbox=conversation.inbox,
        event=dm(conversation.inbox, conversation.contact.x_user_id, at=at, from_business=True, event_id=event_id),
    )
    Message.objects.filter(x_event_id=event_id).update(sender_agent=agent)


def test_a_lead_sees_queues_and_medians_of_their_inbox_only(client):
    lead, alice = make_agent(role=User.Role.LEAD), make_agent(name="Alice Agent")
    inbox, other = make_inbox(members=(lead, alice)), make_inbox()
    now = timezone.now()
    quick = customer_writes(inbox, "701", now - timedelta(hours=5))
    slow = customer_writes(inbox, "702", now - timedelta(hours=4))
    waiting = customer_writes(inbox, "703", now - timedelta(hours=3))
    customer_writes(inbox, "704", now - timedelta(days=20))  # before the period
    customer_writes(other, "705", now - timedelta(hours=1))
    answer(quick, alice, now - timedelta(hours=5) + timedelta(minutes=2), "9701")
    answer(slow, alice, now - timedelta(hours=4) + timedelta(minutes=30), "9702")
    Conversation.objects.filter(pk=waiting.pk).update(assignee=alice)
    conversation_status_set(conversation_id=quick.pk, status="resolved", actor=alice)
    client.force_login(lead)

    response = client.get(reverse("inbox:reports"), {"days": "7"})

    html = response.content.decode()
    row = html.split(f'data-inbox="{inbox.handle}"')[1].split("</tr>")[0]
    cells = [cell.split(">", 1)[1].split("<", 1)[0] for cell in row.split('<td class="number"')[1:]]
    # open now, unassigned, started, resolved, median first reply (2 and 30 min), median time to resolve
    assert cells[:4] == ["3", "2", "3", "1"]
    assert cells[4] == "16 min"
    assert f'data-inbox="{other.handle}"' not in html
    agent_row = html.split(f'data-agent="{alice.email}"')[1].split("</tr>")[0]
    assert ">1 / 10<" in agent_row and ">2<" in agent_row and ">1<" in agent_row


@pytest.mark.parametrize("role", [User.Role.AGENT, User.Role.SOCIAL])
def test_reports_are_for_leads_and_admins(client, role):
    client.force_login(make_agent(role=role))
    assert client.get(reverse("inbox:reports")).status_code == 403


def test_a_bad_period_is_named(client):
    client.force_login(make_agent(role=User.Role.ADMIN))
    response = client.get(reverse("inbox:reports"), {"days": "365"})
    assert response.status_code == 400 and response.content.decode() == "'days' must be one of 1, 7, 30, not '365'."
