"""accounts.services: the writes to agents and teams that the Manage pages and the Django admin go through."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from accounts import services
from accounts.models import TeamMembership
from tests.factories import make_agent, make_team

pytestmark = pytest.mark.django_db


def test_setting_an_agents_teams_keeps_the_memberships_that_stay():
    # given an agent in teams A and B
    agent = make_agent()
    a, b, c = make_team(members=(agent,)), make_team(members=(agent,)), make_team()
    kept = TeamMembership.objects.get(team=a, user=agent)

    # when their teams become A and C
    services.user_teams_set(user=agent, team_ids=[a.pk, c.pk])

    # then B is gone, C is new and A is the same membership (same row, same joined_at)
    assert set(agent.teams.all()) == {a, c}
    assert TeamMembership.objects.get(team=a, user=agent) == kept
    assert not TeamMembership.objects.filter(team=b, user=agent).exists()


def test_setting_a_teams_members_adds_and_removes_only_the_difference():
    stays, leaves, joins = make_agent(), make_agent(), make_agent()
    team = make_team(members=(stays, leaves))
    kept = TeamMembership.objects.get(team=team, user=stays)

    services.team_members_set(team=team, user_ids=[stays.pk, joins.pk])

    assert set(team.members.all()) == {stays, joins}
    assert TeamMembership.objects.get(team=team, user=stays).joined_at == kept.joined_at


def test_django_admin_access_is_the_staff_flag_groups_and_permissions_only():
    agent = make_agent(name="Sam")
    editors = Group.objects.create(name="Label editors")
    change_label = Permission.objects.get(codename="change_label")

    updated = services.user_django_admin_access_set(
        user=agent, is_staff=True, groups=[editors], permissions=[change_label]
    )

    agent.refresh_from_db()
    assert updated.is_staff and agent.is_staff
    assert list(agent.groups.all()) == [editors]
    assert agent.has_perm("inbox.change_label")
    assert (agent.role, agent.name, agent.is_active) == ("agent", "Sam", True)
