"""The /manage/ pages: admins only, forms with labels, precise 400s for bad input, POST-only changes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Team, User
from inbox.models import Conversation, Inbox
from inbox.services.assignment import conversation_assign
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> User:
    return make_agent(role=User.Role.ADMIN, name="Ada Admin")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def page_urls(agent: User, team: Team, inbox: Inbox) -> list[str]:
    return [
        reverse("manage:agents"),
        reverse("manage:agent_invite"),
        reverse("manage:agent", args=[agent.pk]),
        reverse("manage:teams"),
        reverse("manage:team", args=[team.pk]),
        reverse("manage:inboxes"),
        reverse("manage:inbox", args=[inbox.pk]),
    ]


def post_urls(agent: User, team: Team, inbox: Inbox) -> list[str]:
    return [
        reverse("manage:agent_invite"),
        reverse("manage:agent", args=[agent.pk]),
        reverse("manage:agent_memberships", args=[agent.pk]),
        reverse("manage:agent_deactivate", args=[agent.pk]),
        reverse("manage:agent_reactivate", args=[agent.pk]),
        reverse("manage:agent_invite_resend", args=[agent.pk]),
        reverse("manage:teams"),
        reverse("manage:team", args=[team.pk]),
        reverse("manage:team_members", args=[team.pk]),
        reverse("manage:team_inboxes", args=[team.pk]),
        reverse("manage:team_delete", args=[team.pk]),
        reverse("manage:inbox_members", args=[inbox.pk]),
        reverse("manage:inbox_teams", args=[inbox.pk]),
        reverse("manage:inbox_auto_assign", args=[inbox.pk]),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    agent, team, inbox = make_agent(), make_team(), make_inbox()

    for url in page_urls(agent, team, inbox):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    for url in post_urls(agent, team, inbox):
        response = client.post(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    agent.refresh_from_db()
    assert agent.is_active


def test_changes_are_post_only(admin_client):
    agent, team, inbox = make_agent(), make_team(), make_inbox()
    only_post = set(post_urls(agent, team, inbox)) - set(page_urls(agent, team, inbox))

    for url in only_post:
        assert admin_client.get(url).status_code == 405, url
    agent.refresh_from_db()
    assert agent.is_active and Team.objects.filter(pk=team.pk).exists()


def test_changes_need_the_csrf_token(client, admin):
    client.handler.enforce_csrf_checks = True
    client.force_login(admin)
    agent = make_agent()

    response = client.post(reverse("manage:agent_deactivate", args=[agent.pk]))

    assert response.status_code == 403
    agent.refresh_from_db()
    assert agent.is_active


def test_unknown_ids_are_404(admin_client):
    for url in ["/manage/agents/999999/", "/manage/teams/999999/", "/manage/inboxes/999999/"]:
        assert admin_client.get(url).status_code == 404, url
    assert admin_client.post("/manage/agents/999999/deactivate/").status_code == 404


def test_the_top_bar_links_to_manage_for_admins_only(client, admin):
    client.force_login(admin)
    assert 'href="/manage/">Manage</a>' in client.get("/").content.decode()

    client.force_login(make_agent(role=User.Role.LEAD))
    assert 'href="/manage/"' not in client.get("/").content.decode()


def test_the_agents_list_shows_role_teams_inboxes_presence_and_status(admin_client, admin):
    # given a deactivated lead in a team working an inbox through it, plus one directly
    lead = make_agent(role=User.Role.LEAD, name="Lee Lead", email="lee@example.test")
    team = make_team(members=(lead,))
    through_team, direct = make_inbox(teams=(team,)), make_inbox(members=(lead,))
    admin_client.post(reverse("manage:agent_deactivate", args=[lead.pk]))

    # when the admin opens the list
    html = admin_client.get(reverse("manage:agents")).content.decode()

    # then the row says it all
    row = html.split('data-agent="lee@example.test"')[1].split("</tr>")[0]
    for text in ["Lee Lead", "lee@example.test", "Team lead", team.name, f"@{direct.handle}", "Offline", "Deactivated"]:
        assert text in row, text
    assert f"Through a team: @{through_team.handle}" in row
    assert "Sees every inbox (admin)" in html.split(f'data-agent="{admin.email}"')[1].split("</tr>")[0]


def test_forms_have_labels(admin_client):
    agent, team, inbox = make_agent(), make_team(), make_inbox()

    for url in page_urls(agent, team, inbox):
        html = admin_client.get(url).content.decode()
        assert html.count("<form") >= 1, url
        for field_id in ["id_email", "id_name", "id_role", "id_capacity", "id_auto_assign"]:
            if f'id="{field_id}"' in html:
                assert f'for="{field_id}"' in html, (url, field_id)


# Bad input: 400 with the reason ---------------------------------------------------------------


def test_an_invitation_without_a_valid_email_is_refused(admin_client):
    response = admin_client.post(reverse("manage:agent_invite"), {"email": "not-an-email", "role": "agent"})

    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert not User.objects.filter(email="not-an-email").exists()


def test_an_unknown_role_is_refused(admin_client):
    agent = make_agent()

    response = admin_client.post(
        reverse("manage:agent", args=[agent.pk]), {"name": "X", "role": "overlord", "capacity": "3"}
    )

    assert response.status_code == 400
    assert "Select a valid choice. overlord is not one of the available choices." in response.content.decode()


def test_a_capacity_out_of_range_or_not_a_number_is_refused(admin_client):
    agent = make_agent()
    url = reverse("manage:agent", args=[agent.pk])

    too_big = admin_client.post(url, {"name": "X", "role": "agent", "capacity": "100000"})
    not_number = admin_client.post(url, {"name": "X", "role": "agent", "capacity": "lots"})

    assert too_big.status_code == 400 and "less than or equal to 1000" in too_big.content.decode()
    assert not_number.status_code == 400 and "Enter a whole number." in not_number.content.decode()
    agent.refresh_from_db()
    assert agent.capacity == 10


def test_an_admin_demoting_themselves_is_told_why(admin_client, admin):
    make_agent(role=User.Role.ADMIN)

    response = admin_client.post(
        reverse("manage:agent", args=[admin.pk]), {"name": "Ada", "role": "agent", "capacity": "3"}
    )

    assert response.status_code == 400
    assert "You cannot demote yourself: ask another admin." in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == User.Role.ADMIN


def test_an_admin_deactivating_themselves_is_told_why(admin_client, admin):
    response = admin_client.post(reverse("manage:agent_deactivate", args=[admin.pk]))

    assert response.status_code == 400
    assert "You cannot deactivate yourself: ask another admin." in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_an_unknown_team_or_inbox_id_is_refused(admin_client):
    agent = make_agent()

    response = admin_client.post(reverse("manage:agent_memberships", args=[agent.pk]), {"teams": ["424242"]})
    garbage = admin_client.post(reverse("manage:agent_memberships", args=[agent.pk]), {"inboxes": ["abc"]})

    assert response.status_code == 400
    assert "Select a valid choice. 424242 is not one of the available choices." in response.content.decode()
    assert garbage.status_code == 400 and "“abc” is not a valid value." in garbage.content.decode()


def test_a_team_needs_a_name_of_its_own(admin_client):
    make_team()
    Team.objects.create(name="Billing")

    empty = admin_client.post(reverse("manage:teams"), {"name": "  "})
    taken = admin_client.post(reverse("manage:teams"), {"name": "billing"})

    assert empty.status_code == 400 and "This field is required." in empty.content.decode()
    assert taken.status_code == 400 and "There is already a team named &#x27;billing&#x27;." in taken.content.decode()
    assert Team.objects.filter(name__iexact="billing").count() == 1


def test_resending_to_an_agent_who_joined_is_refused(admin_client):
    agent = make_agent(name="Jo")

    response = admin_client.post(reverse("manage:agent_invite_resend", args=[agent.pk]))

    assert response.status_code == 400
    assert f"Jo has already joined: they log in with {agent.email}." in response.content.decode()


# Changes ---------------------------------------------------------------------------------------


def test_an_admin_edits_an_agent(admin_client):
    agent = make_agent()
    team, inbox = make_team(), make_inbox()

    profile = admin_client.post(
        reverse("manage:agent", args=[agent.pk]), {"name": "Lee", "role": "lead", "capacity": "4"}
    )
    memberships = admin_client.post(
        reverse("manage:agent_memberships", args=[agent.pk]), {"teams": [team.pk], "inboxes": [inbox.pk]}
    )

    assert profile.status_code == memberships.status_code == 302
    agent.refresh_from_db()
    assert (agent.name, agent.role, agent.capacity) == ("Lee", User.Role.LEAD, 4)
    assert list(agent.teams.all()) == [team] and list(agent.inboxes.all()) == [inbox]
    page = admin_client.get(profile["Location"]).content.decode()
    assert "Saved the teams and inboxes of Lee." in page


def test_deactivating_from_the_page_hands_conversations_back_and_says_how_many(admin_client, admin):
    agent = make_agent(name="Sam")
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "4001")).message.conversation
    conversation_assign(conversation_id=conversation.pk, assignee=agent, actor=None)
    page = admin_client.get(reverse("manage:agent", args=[agent.pk])).content.decode()
    assert "The 1 conversation assigned to them and not resolved goes back to the queue" in page

    response = admin_client.post(reverse("manage:agent_deactivate", args=[agent.pk]), follow=True)

    assert "Sam is deactivated and logged out; 1 conversation went back to the queue." in response.content.decode()
    assert Conversation.objects.get(pk=conversation.pk).assignee_id is None
    reactivated = admin_client.post(reverse("manage:agent_reactivate", args=[agent.pk]), follow=True)
    assert "Sam can log in again." in reactivated.content.decode()


def test_an_admin_creates_renames_fills_and_deletes_a_team(admin_client):
    member, inbox = make_agent(), make_inbox()

    created = admin_client.post(reverse("manage:teams"), {"name": "Escalations"})
    team = Team.objects.get(name="Escalations")
    assert created.status_code == 302 and created["Location"] == reverse("manage:team", args=[team.pk])
    admin_client.post(reverse("manage:team", args=[team.pk]), {"name": "Tier 2"})
    admin_client.post(reverse("manage:team_members", args=[team.pk]), {"members": [member.pk]})
    admin_client.post(reverse("manage:team_inboxes", args=[team.pk]), {"inboxes": [inbox.pk]})

    team.refresh_from_db()
    assert team.name == "Tier 2" and list(team.members.all()) == [member] and list(team.inboxes.all()) == [inbox]
    listing = admin_client.get(reverse("manage:teams")).content.decode()
    assert 'data-team="Tier 2"' in listing and member.display_name in listing

    deleted = admin_client.post(reverse("manage:team_delete", args=[team.pk]))
    assert deleted.status_code == 302 and not Team.objects.filter(pk=team.pk).exists()


def test_an_admin_sets_an_inboxs_members_teams_and_auto_assignment(admin_client):
    inbox, member, team = make_inbox(), make_agent(), make_team()

    admin_client.post(reverse("manage:inbox_members", args=[inbox.pk]), {"members": [member.pk]})
    admin_client.post(reverse("manage:inbox_teams", args=[inbox.pk]), {"teams": [team.pk]})
    switched = admin_client.post(
        reverse("manage:inbox_auto_assign", args=[inbox.pk]), {"auto_assign": "on"}, follow=True
    )

    inbox.refresh_from_db()
    assert list(inbox.members.all()) == [member] and list(inbox.teams.all()) == [team] and inbox.auto_assign
    assert f"Auto-assignment is on for @{inbox.handle}." in switched.content.decode()
    admin_client.post(reverse("manage:inbox_auto_assign", args=[inbox.pk]), {})
    inbox.refresh_from_db()
    assert not inbox.auto_assign
