"""Who sees whose presence: the Reports page's leads (their inboxes' agents), Manage's admins (everyone)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import make_agent, make_inbox

pytestmark = pytest.mark.django_db


def test_a_lead_sees_the_agents_of_their_inboxes_and_an_admin_everyone(client):
    lead = make_agent(role=User.Role.LEAD)
    mine, other = make_agent(), make_agent()
    make_inbox(members=(lead, mine))
    make_inbox(members=(other,))
    admin = make_agent(role=User.Role.ADMIN)

    client.force_login(lead)
    seen_by_lead = client.get(reverse("team_presence")).json()["agents"]
    client.force_login(admin)
    seen_by_admin = client.get(reverse("team_presence")).json()["agents"]

    assert set(seen_by_lead) == {str(lead.pk), str(mine.pk)}
    assert seen_by_lead[str(mine.pk)] == {"presence": "offline", "label": "Offline"}
    assert {str(mine.pk), str(other.pk), str(lead.pk), str(admin.pk)} <= set(seen_by_admin)


def test_agents_may_not_read_everyones_presence(client):
    client.force_login(make_agent())

    assert client.get(reverse("team_presence")).status_code == 403
    assert client.post(reverse("team_presence")).status_code == 405
