"""What alerts an agent to new customer messages: the unread count of their alerting views (Mine,
Unassigned, their teams) and which just-announced conversations get a sound and a notification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import preferences_sound_set, preferences_update
from inbox.selectors.alerts import alerts_for, unread_count
from inbox.services.assignment import conversation_assign, conversation_team_set
from inbox.services.conversations import conversation_status_set
from inbox.services.ingest import dm_event_ingest
from inbox.services.reads import conversation_mark_read
from tests.factories import dm, make_agent, make_inbox, make_team

pytestmark = pytest.mark.django_db


def written(inbox, customer: str, *, text: str = "Hello", minutes: int = 0):
    event = dm(inbox, customer, text=text, at=timezone.now() + timedelta(minutes=minutes))
    return dm_event_ingest(inbox=inbox, event=event).message.conversation


def views(user: User, *, mine: bool = True, unassigned: bool = True, teams: bool = True) -> None:
    preferences_update(
        user=user, time_zone="", desktop_notifications=True, sound=True,
        notify_mine=mine, notify_unassigned=unassigned, notify_teams=teams,
    )  # fmt: skip


def test_the_count_covers_mine_unassigned_and_my_teams_and_drops_when_read():
    alice, bob = make_agent(), make_agent()
    lead = make_agent(role=User.Role.LEAD)
    team = make_team(members=(alice,))
    inbox = make_inbox(members=(alice, bob, lead), teams=(team,))
    unassigned = written(inbox, "111")
    mine = written(inbox, "222")
    conversation_assign(conversation_id=mine.pk, assignee=alice, actor=alice)
    bobs = written(inbox, "333")
    conversation_assign(conversation_id=bobs.pk, assignee=bob, actor=bob)
    bobs_in_my_team = written(inbox, "444")
    conversation_assign(conversation_id=bobs_in_my_team.pk, assignee=bob, actor=bob)
    conversation_team_set(conversation_id=bobs_in_my_team.pk, team=team, actor=lead)

    assert unread_count(alice) == 3  # not Bob's own outside her team
    conversation_mark_read(conversation_id=unassigned.pk, user=alice)
    assert unread_count(alice) == 2
    written(inbox, "111", minutes=5)  # the customer writes again after she read it
    assert unread_count(alice) == 3
    assert unread_count(bob) == 3  # the unassigned one, and his two


def test_views_turned_off_are_not_counted_and_all_off_counts_nothing():
    alice = make_agent()
    inbox = make_inbox(members=(alice,))
    written(inbox, "111")
    mine = written(inbox, "222")
    conversation_assign(conversation_id=mine.pk, assignee=alice, actor=alice)

    views(alice, unassigned=False)
    only_mine = unread_count(alice)
    views(alice, mine=False, unassigned=False, teams=False)

    assert only_mine == 1
    assert unread_count(alice) == 0


def test_only_open_conversations_of_inboxes_the_agent_may_see_count():
    alice = make_agent()
    hers, other = make_inbox(members=(alice,)), make_inbox()
    written(other, "111")
    resolved = written(hers, "222")
    conversation_status_set(conversation_id=resolved.pk, status="resolved", actor=alice)
    written(hers, "333")

    assert unread_count(alice) == 1


def test_alerts_are_the_announced_conversations_in_the_agents_views_never_others():
    alice, bob = make_agent(), make_agent()
    inbox, elsewhere = make_inbox(members=(alice, bob)), make_inbox(members=(bob,))
    new = written(inbox, "111", text="My parcel never came")
    bobs = written(inbox, "222")
    conversation_assign(conversation_id=bobs.pk, assignee=bob, actor=bob)
    hidden = written(elsewhere, "333")

    unread, alerts = alerts_for(alice, [new.pk, bobs.pk, hidden.pk])

    assert unread == 1
    assert [(a.conversation_id, a.body) for a in alerts] == [(new.pk, "My parcel never came")]


def test_the_alerts_endpoint_answers_the_count_and_the_alerts(client):
    alice = make_agent()
    inbox = make_inbox(members=(alice,))
    conversation = written(inbox, "111", text="Hi there")
    client.force_login(alice)

    answer = client.get(reverse("inbox:alerts"), {"c": [conversation.pk]}).json()
    count_only = client.get(reverse("inbox:alerts")).json()
    bad = client.get(reverse("inbox:alerts"), {"c": "x"})

    assert answer["unread"] == 1
    assert answer["alerts"] == [
        {
            "conversation_id": conversation.pk,
            "title": conversation.contact.display_name,
            "body": "Hi there",
            "url": f"/c/{conversation.pk}/",
        }
    ]
    assert count_only == {"unread": 1, "alerts": []}
    assert bad.status_code == 400


def test_the_inbox_page_carries_the_alert_preferences(client):
    alice = make_agent()
    views(alice)
    preferences_sound_set(user=alice, sound=False)
    client.force_login(alice)

    html = client.get(reverse("inbox:home")).content.decode()

    assert 'data-sound="off" data-desktop="on"' in html
    assert 'id="alert-sound" aria-pressed="true"' in html
