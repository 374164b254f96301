"""Bulk actions on the conversation list: many conversations assigned, resolved or labelled at once, each
through the single-conversation rules, with what was refused named per conversation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from inbox.models import Conversation, ConversationEvent, Label
from inbox.services.bulk import BULK_LIMIT
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox

pytestmark = pytest.mark.django_db

FRAGMENT = {"X-Fragment": "1"}


def conversations(inbox, count: int, first_sender: int = 500) -> list[Conversation]:
    return [
        dm_event_ingest(inbox=inbox, event=dm(inbox, str(first_sender + n), text=f"question {n}")).message.conversation
        for n in range(count)
    ]


def bulk(client, ids, choice, **extra):
    data = {"conversation": [str(pk) for pk in ids], "choice": choice, **extra}
    return client.post(reverse("inbox:bulk"), data, headers=FRAGMENT)


@pytest.fixture
def team():
    lead = make_agent(role=User.Role.LEAD, name="Lena Lead")
    alice = make_agent(name="Alice Agent")
    bob = make_agent(name="Bob Agent")
    inbox = make_inbox(members=(lead, alice, bob))
    return lead, alice, bob, inbox


def test_a_lead_assigns_many_conversations_each_logged_and_notified(client, team):
    lead, alice, _bob, inbox = team
    chosen = conversations(inbox, 3)
    client.force_login(lead)

    response = bulk(client, [c.pk for c in chosen], f"assign:{alice.pk}")

    assert response.status_code == 200
    body = response.json()
    assert sorted(body["changed"]) == sorted(c.pk for c in chosen) and body["refused"] == {}
    assert body["summary"] == "3 conversations assigned to Alice Agent."
    assert set(Conversation.objects.filter(pk__in=body["changed"]).values_list("assignee", flat=True)) == {alice.pk}
    assert ConversationEvent.objects.filter(kind="assigned", actor=lead).count() == 3
    assert alice.notifications.count() == 3


def test_an_agent_takes_unassigned_ones_and_is_told_which_belong_to_someone_else(client, team):
    _lead, alice, bob, inbox = team
    free, taken = conversations(inbox, 2)
    Conversation.objects.filter(pk=taken.pk).update(assignee=bob)
    client.force_login(alice)

    response = bulk(client, [free.pk, taken.pk], "assign:me")

    body = response.json()
    assert body["changed"] == [free.pk]
    assert body["refused"] == {
        str(taken.pk): "Already assigned to Bob Agent: someone changed it while you were looking"
    }
    assert "1 conversation assigned to Alice Agent. 1 not changed: Already assigned to Bob Agent" in body["summary"]
    assert Conversation.objects.get(pk=taken.pk).assignee == bob


def test_an_agent_cannot_hand_conversations_to_someone_else(client, team):
    _lead, alice, bob, inbox = team
    (one,) = conversations(inbox, 1)
    client.force_login(alice)

    body = bulk(client, [one.pk], f"assign:{bob.pk}").json()

    assert (
        body["changed"] == [] and "Agents can only assign conversations to themselves" in body["refused"][str(one.pk)]
    )
    assert Conversation.objects.get(pk=one.pk).assignee is None


def test_resolve_and_labels_in_bulk_keep_other_labels(client, team):
    lead, _alice, _bob, inbox = team
    chosen = conversations(inbox, 2)
    refund, vip = Label.objects.create(name="Refund"), Label.objects.create(name="VIP")
    chosen[0].labels.add(vip)
    client.force_login(lead)

    assert bulk(client, [c.pk for c in chosen], f"label_add:{refund.pk}").json()["summary"] == (
        "2 conversations labelled Refund."
    )
    assert bulk(client, [c.pk for c in chosen], "status:resolved").status_code == 200
    assert bulk(client, [chosen[1].pk], f"label_remove:{refund.pk}").status_code == 200

    first, second = (Conversation.objects.get(pk=c.pk) for c in chosen)
    assert {label.name for label in first.labels.all()} == {"Refund", "VIP"}
    assert {label.name for label in second.labels.all()} == set()
    assert first.status == second.status == Conversation.Status.RESOLVED
    assert ConversationEvent.objects.filter(kind="status_changed", actor=lead).count() == 2


def test_conversations_of_other_inboxes_are_refused_and_left_alone(client, team):
    lead, _alice, _bob, inbox = team
    (mine,) = conversations(inbox, 1)
    (elsewhere,) = conversations(make_inbox(), 1, first_sender=900)
    client.force_login(lead)

    body = bulk(client, [mine.pk, elsewhere.pk, 999999], "status:pending").json()

    assert body["changed"] == [mine.pk]
    assert body["refused"] == {str(elsewhere.pk): "not in your inboxes", "999999": "not in your inboxes"}
    assert Conversation.objects.get(pk=elsewhere.pk).status == Conversation.Status.OPEN


@pytest.mark.parametrize(
    ("ids", "choice", "message"),
    [
        ([], "status:resolved", "Select at least one conversation."),
        (["abc"], "status:resolved", "Conversations are selected by id."),
        ([1], "", "Unknown bulk action ''; use assign, team, status, label_add or label_remove."),
        ([1], "delete:1", "Unknown bulk action 'delete'; use assign, team, status, label_add or label_remove."),
        ([1], "status:snoozed", "Unknown status 'snoozed'; bulk actions set one of open, pending, resolved."),
        ([1], "assign:12345678", "No active agent '12345678' to assign to."),
        ([1], "label_add:x", "No such label: 'x'."),
        (list(range(1, BULK_LIMIT + 2)), "status:open", f"At most {BULK_LIMIT} conversations at once; 201 were"),
    ],
)
def test_bad_requests_change_nothing_and_say_why(client, team, ids, choice, message):
    lead, _alice, _bob, inbox = team
    (one,) = conversations(inbox, 1)
    client.force_login(lead)
    events_before = ConversationEvent.objects.count()

    response = bulk(client, ids, choice)

    assert response.status_code == 400
    assert response.content.decode().startswith(message)
    assert Conversation.objects.get(pk=one.pk).status == Conversation.Status.OPEN
    assert ConversationEvent.objects.count() == events_before


def test_social_managers_get_no_bulk_menu_and_a_403(client, team):
    _lead, _alice, _bob, inbox = team
    social = make_agent(role=User.Role.SOCIAL)
    inbox.members.add(social)
    (one,) = conversations(inbox, 1)
    client.force_login(social)

    page = client.get(reverse("inbox:home")).content.decode()
    response = bulk(client, [one.pk], "status:resolved")

    assert 'id="bulk-form"' not in page and 'class="row-select"' not in page
    assert response.status_code == 403 and "read conversations but not change them" in response.content.decode()


def test_the_menu_offers_leads_their_agents_and_agents_only_themselves(client, team):
    lead, alice, bob, inbox = team
    conversations(inbox, 1)
    outsider = make_agent(name="Olga Outside")
    make_inbox(members=(outsider,))

    client.force_login(lead)
    lead_page = client.get(reverse("inbox:home")).content.decode()
    client.force_login(alice)
    agent_page = client.get(reverse("inbox:home")).content.decode()

    assert f'value="assign:{bob.pk}"' in lead_page and f'value="assign:{outsider.pk}"' not in lead_page
    assert 'value="assign:me"' in agent_page and f'value="assign:{bob.pk}"' not in agent_page
    assert 'class="row-select"' in agent_page


def test_without_javascript_the_form_redirects_back_with_the_summary(client, team):
    lead, _alice, _bob, inbox = team
    (one,) = conversations(inbox, 1)
    client.force_login(lead)

    response = client.post(
        reverse("inbox:bulk"), {"conversation": [one.pk], "choice": "status:resolved", "return_query": "view=open"}
    )

    assert response.status_code == 302 and response["Location"] == "/?view=open"
    page = client.get(response["Location"]).content.decode()
    assert "1 conversation marked resolved." in page
