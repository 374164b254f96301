"""An agent chooses Auto (online while the inbox is open), Away or Offline from the top bar."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_agent

pytestmark = pytest.mark.django_db


def test_an_agent_chooses_and_is_sent_back_where_they_were(client):
    agent = make_agent()
    client.force_login(agent)

    response = client.post(reverse("presence"), {"presence": "auto", "next": "/?view=mine"})
    offsite = client.post(reverse("presence"), {"presence": "away", "next": "https://evil.example/"})
    bad = client.post(reverse("presence"), {"presence": "busy"})

    assert response.status_code == 302 and response["Location"] == "/?view=mine"
    assert offsite["Location"] == "/"
    assert bad.status_code == 400 and bad.content.decode().startswith("Unknown presence 'busy'")
    agent.refresh_from_db()
    assert agent.presence_choice == "away"
    assert agent.presence == "offline"  # no inbox page open: offline whatever the choice
    assert 'value="away" selected' in client.get(reverse("inbox:home")).content.decode()
