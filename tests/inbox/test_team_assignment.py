"""Moving a conversation to a team's queue: leads and admins only, only to a team that works the inbox,
logged, live, and in bulk; the assignee stays."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from inbox.models import Conversation, ConversationEvent
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox, make_team

pytestmark = pytest.mark.django_db

FRAGMENT = {"X-Fragment": "1"}


@pytest.fixture
def setup():
    lead = make_agent(role=User.Role.LEAD, name="Lena Lead")
    agent = make_agent(name="Alice Agent")
    billing, shipping, elsewhere = make_team(), make_team(), make_team()
    billing.name, shipping.name = "Billing", "Shipping"
    billing.save(), shipping.save()
    inbox = make_inbox(members=(lead, agent), teams=(billing, shipping))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "611")).message.conversation
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)
    return lead, agent, conversation, billing, shipping, elsewhere


def test_a_lead_moves_a_conversation_to_a_team_and_back(client, setup):
    lead, agent, conversation, billing, _shipping, _elsewhere = setup
    client.force_login(lead)

    moved = client.post(reverse("inbox:team", args=[conversation.pk]), {"team": billing.pk}, headers=FRAGMENT)
    out = client.post(reverse("inbox:team", args=[conversation.pk]), {"team": "none"}, headers=FRAGMENT)

    assert moved.status_code == 200 and "Team Billing" in moved.content.decode()
    assert out.status_code == 200
    conversation.refresh_from_db()
    assert conversation.team is None and conversation.assignee == agent
    lines = [e.parameters for e in ConversationEvent.objects.filter(kind="team_assigned").order_by("pk")]
    assert [(p["old_team_name"], p["new_team_name"]) for p in lines] == [(None, "Billing"), ("Billing", None)]
    timeline = client.get(reverse("inbox:timeline", args=[conversation.pk])).content.decode()
    assert "Lena Lead moved it to team Billing" in timeline and "Lena Lead took it out of team Billing" in timeline


def test_agents_cannot_move_conversations_between_teams(client, setup):
    _lead, agent, conversation, billing, _shipping, _elsewhere = setup
    client.force_login(agent)

    response = client.post(reverse("inbox:team", args=[conversation.pk]), {"team": billing.pk}, headers=FRAGMENT)

    assert response.status_code == 403
    assert response.content.decode() == "Only leads and admins move conversations between teams."
    assert Conversation.objects.get(pk=conversation.pk).team is None


@pytest.mark.parametrize("value", ["999999", "abc"])
def test_unknown_teams_are_named(client, setup, value):
    lead, _agent, conversation, *_ = setup
    client.force_login(lead)
    response = client.post(reverse("inbox:team", args=[conversation.pk]), {"team": value}, headers=FRAGMENT)
    assert response.status_code == 400 and response.content.decode() == f"No such team: {value!r}."


def test_a_team_that_does_not_work_the_inbox_is_refused(client, setup):
    lead, _agent, conversation, _billing, _shipping, elsewhere = setup
    client.force_login(lead)

    response = client.post(reverse("inbox:team", args=[conversation.pk]), {"team": elsewhere.pk}, headers=FRAGMENT)

    assert response.status_code == 403 and "does not work @" in response.content.decode()


def test_bulk_moves_to_a_team(client, setup):
    lead, _agent, conversation, _billing, shipping, _elsewhere = setup
    inbox = conversation.inbox
    other = dm_event_ingest(inbox=inbox, event=dm(inbox, "612")).message.conversation
    client.force_login(lead)

    page = client.get(reverse("inbox:home")).content.decode()
    body = client.post(
        reverse("inbox:bulk"), {"conversation": [conversation.pk, other.pk], "choice": f"team:{shipping.pk}"},
        headers=FRAGMENT,
    ).json()  # fmt: skip

    assert f'value="team:{shipping.pk}"' in page
    assert body["summary"] == "2 conversations moved to team Shipping."
    assert set(Conversation.objects.values_list("team", flat=True)) == {shipping.pk}
