"""The Django admin for agents and teams: read-only but for access to the admin site and a new password,
which go through accounts.services; everything else is the Manage pages' job."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts.models import TeamMembership, User
from tests.factories import PASSWORD, make_agent, make_superuser, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_admin(client):
    admin = make_superuser()
    client.force_login(admin)
    return admin


def test_the_admin_gives_an_agent_access_to_the_admin_site_and_nothing_else(client, site_admin):
    # given an agent, and a group that may edit labels
    agent = make_agent(name="Sam")
    editors = Group.objects.create(name="Label editors")
    editors.permissions.add(*Permission.objects.filter(codename__in=["view_label", "change_label"]))

    # when a site admin opens their page and makes them staff in that group, the post also carrying a role,
    # a capacity, a name and an email
    page = client.get(reverse("admin:accounts_user_change", args=[agent.pk])).content.decode()
    response = client.post(
        reverse("admin:accounts_user_change", args=[agent.pk]),
        {"is_staff": "on", "groups": [editors.pk], "role": "admin", "capacity": "0", "name": "Root", "email": "x@y.z"},
    )

    # then they may use the admin for labels, and the rest (the Manage pages' job) did not change
    assert 'name="is_staff"' in page and 'name="groups"' in page
    assert 'name="role"' not in page and 'name="is_active"' not in page and 'name="is_superuser"' not in page
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.is_staff and agent.is_active and agent.has_perm("inbox.change_label")
    assert (agent.role, agent.capacity, agent.name, agent.email) == ("agent", 10, "Sam", agent.email)
    staff = Client()
    staff.force_login(agent)
    assert staff.get(reverse("admin:inbox_label_changelist")).status_code == 200


def test_a_password_set_in_the_admin_is_the_one_the_agent_logs_in_with(client, site_admin):
    agent = make_agent()
    new = "a new horse battery staple"

    response = client.post(
        reverse("admin:auth_user_password_change", args=[agent.pk]), {"password1": new, "password2": new}
    )

    assert response.status_code == 302
    assert Client().login(email=agent.email, password=new)
    assert not Client().login(email=agent.email, password=PASSWORD)


def test_disabling_password_login_in_the_admin_makes_the_agent_invited_again(client, site_admin):
    agent = make_agent()

    response = client.post(
        reverse("admin:auth_user_password_change", args=[agent.pk]), {"usable_password": "false", "unset-password": "1"}
    )

    assert response.status_code == 302
    assert not Client().login(email=agent.email, password=PASSWORD)
    assert "Resend invitation" in client.get(reverse("manage:agent", args=[agent.pk])).content.decode()


def test_agents_and_teams_are_not_added_or_deleted_in_the_admin(client, site_admin):
    agent = make_agent()
    team = make_team(members=(agent,))

    refused = [
        client.get(reverse("admin:accounts_user_add")),
        client.post(reverse("admin:accounts_user_delete", args=[agent.pk]), {"post": "yes"}),
        client.get(reverse("admin:accounts_team_add")),
        client.post(reverse("admin:accounts_team_change", args=[team.pk]), {"name": "Renamed"}),
        client.post(reverse("admin:accounts_team_delete", args=[team.pk]), {"post": "yes"}),
        client.post(
            reverse("admin:account_emailaddress_change", args=[EmailAddress.objects.get(user=agent).pk]),
            {"email": "someone@else.test", "user": agent.pk, "verified": "on", "primary": "on"},
        ),
    ]

    assert [r.status_code for r in refused] == [403] * len(refused)
    assert User.objects.filter(pk=agent.pk, is_active=True).exists()
    assert TeamMembership.objects.filter(team=team, user=agent).exists() and str(team.name).startswith("Team")
    assert EmailAddress.objects.get(user=agent).email == agent.email
    assert client.get(reverse("admin:accounts_team_change", args=[team.pk])).status_code == 200
