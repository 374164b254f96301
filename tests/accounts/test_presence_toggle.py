"""An agent sets themselves online, away or offline from the top bar."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_agent

pytestmark = pytest.mark.django_db


def test_an_agent_goes_online_and_is_sent_back_where_they_were(client):
    agent = make_agent()
    client.force_login(agent)

    response = client.post(reverse("presence"), {"presence": "online", "next": "/?view=mine"})
    offsite = client.post(reverse("presence"), {"presence": "away", "next": "https://evil.example/"})
    bad = client.post(reverse("presence"), {"presence": "busy"})

    assert response.status_code == 302 and response["Location"] == "/?view=mine"
    assert offsite["Location"] == "/"
    assert bad.status_code == 400 and bad.content.decode().startswith("Unknown presence 'busy'")
    agent.refresh_from_db()
    assert agent.presence == "away" and agent.presence_changed_at is not None
    assert 'value="away" selected' in client.get(reverse("inbox:home")).content.decode()
