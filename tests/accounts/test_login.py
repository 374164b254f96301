from __future__ import annotations

import pytest

from accounts.models import User
from accounts.services import user_set_password
from inbox.services.demo import DEMO_PASSWORD, demo_seed
from inbox.services.ingest import dm_event_ingest
from tests.factories import PASSWORD, dm, make_agent, make_inbox

pytestmark = pytest.mark.django_db


def test_login_page_asks_for_email_and_password(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="email"' in html and 'type="password"' in html
    assert "sign up" not in html.lower()
    assert "/accounts/signup/" not in html


def test_agent_logs_in_with_email_and_lands_on_conversations(client):
    agent = make_agent(email="Alice@Example.test")

    response = client.post("/accounts/login/", {"login": "alice@example.test", "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/"
    assert response.context["user"] == agent
    assert b"Conversations" in response.content


def test_wrong_password_is_refused(client):
    make_agent(email="alice@example.test")

    response = client.post("/accounts/login/", {"login": "alice@example.test", "password": "nope"})

    assert response.status_code == 200
    assert not response.context["user"].is_authenticated
    assert b"not correct" in response.content


def test_public_sign_up_is_closed(client):
    response = client.post(
        "/accounts/signup/", {"email": "new@example.test", "password1": "x7!kQ9#mmm", "password2": "x7!kQ9#mmm"}
    )

    assert "account/signup_closed.html" in [t.name for t in response.templates]
    assert not User.objects.filter(email="new@example.test").exists()


def test_pages_require_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_agents_see_only_conversations_of_their_inboxes(client):
    agent = make_agent()
    mine, theirs = make_inbox(members=(agent,)), make_inbox()
    dm_event_ingest(inbox=mine, event=dm(mine, "111", text="visible to me"))
    dm_event_ingest(inbox=theirs, event=dm(theirs, "222", text="someone else's customer"))
    client.force_login(agent)

    html = client.get("/").content.decode()

    assert "visible to me" in html
    assert "someone else&#x27;s customer" not in html and "someone else's customer" not in html


def test_dm_text_is_escaped(client):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    dm_event_ingest(inbox=inbox, event=dm(inbox, "111", text="<script>alert(1)</script>"))
    client.force_login(agent)

    html = client.get("/").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_demo_seed_is_idempotent_and_its_logins_work(client):
    first = demo_seed()
    second = demo_seed()

    assert first.conversations == second.conversations == 5
    assert User.objects.count() == 4
    for agent in second.agents:
        assert client.login(email=agent.email, password=DEMO_PASSWORD)
    assert {a.role for a in second.agents} == {"admin", "lead", "agent", "social"}


def test_seeding_again_keeps_the_demo_users_passwords_and_sessions(client):
    # given the demo, an agent who changed their password and is logged in
    seed = demo_seed()
    agent = next(a for a in seed.agents if a.role == "agent")
    user_set_password(user=agent, password="a-password-of-my-own")
    assert client.login(email=agent.email, password="a-password-of-my-own")
    assert client.get("/").status_code == 200

    # when the quick start starts again (seed_demo runs at every `make run`)
    demo_seed()

    # then their session still works, and so does their own password
    assert client.get("/").status_code == 200  # not the redirect to the login page
    assert client.login(email=agent.email, password="a-password-of-my-own")
