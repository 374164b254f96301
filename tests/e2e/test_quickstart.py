"""A new user's first minute: the login page, the printed demo credentials, the conversation list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from inbox.models import Conversation
from inbox.services.demo import DEMO_PASSWORD, demo_seed

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_demo_agent_logs_in_and_sees_the_demo_conversations(page: Page, live_server_url: str):
    # given the demo data
    seed = demo_seed()
    agent = next(a for a in seed.agents if a.role == "agent")

    # when the agent opens the app and logs in with the printed credentials
    page.goto(live_server_url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    # then the inbox opens on the open conversations, most recent first
    expect(page.get_by_role("heading", name="All open")).to_be_visible()
    rows = page.get_by_role("list", name="Conversations").locator("li.row")
    expect(rows).to_have_count(Conversation.objects.filter(status=Conversation.Status.OPEN).count())
    expect(rows.first).to_contain_text("It's 28013. Still nothing today.")
    expect(page.get_by_text("María Fernández")).to_be_visible()
    expect(page.get_by_text("Alice Agent · Agent")).to_be_visible()


def test_wrong_password_keeps_the_user_on_the_login_page(page: Page, live_server_url: str):
    seed = demo_seed()

    page.goto(live_server_url + "/accounts/login/")
    page.get_by_label("Email").fill(seed.agents[0].email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign In").click()

    expect(page.get_by_text("not correct")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_logout_ends_the_session(page: Page, live_server_url: str):
    seed = demo_seed()
    page.goto(live_server_url + "/accounts/login/")
    page.get_by_label("Email").fill(seed.agents[2].email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="All open")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.goto(live_server_url + "/")

    expect(page).to_have_url(re.compile(r"/accounts/login/"))
