"""Presence in Chromium: an agent who logs in and opens the inbox is Online on the lead's Reports and the
admin's Manage page (live, no reload), Offline once the page is closed; Away chosen in the top bar
sticks after a reload; an idle page goes Away and comes back Online at the next key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from tests.factories import PASSWORD, make_agent, make_inbox

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIVE = 20_000  # ms: the pages ask every 5 s; a deadline, not a measurement
DESKTOP = {"width": 1280, "height": 800}


def logged_in(browser: Browser, url: str, user: User, viewport: dict[str, int] = DESKTOP) -> Page:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(viewport=viewport)
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])
    return context.new_page()


def open_inbox(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()


def presence_cell(page: Page, agent: User):
    return page.locator(f'[data-agent="{agent.email}"] [data-presence-of]')


def test_an_agent_who_logs_in_is_online_for_the_lead_and_admin_and_offline_once_the_page_closes(
    browser: Browser, live_server_url: str, screenshot
):
    url = live_server_url
    agent = make_agent(name="Alice Agent", email="alice@example.test")
    lead = make_agent(name="Lena Lead", role=User.Role.LEAD)
    admin = make_agent(name="Ada Admin", role=User.Role.ADMIN)
    make_inbox(members=(agent, lead))
    reports = logged_in(browser, url, lead)
    reports.goto(url + reverse("inbox:reports"))
    expect(presence_cell(reports, agent)).to_have_text("Offline")

    # the agent logs in through the login form and lands on the inbox
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(url + "/accounts/login/")
    page.locator("input[name=login]").fill(agent.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()
    expect(page.locator("#my-presence-state")).to_have_text("Online")
    expect(page.locator("#my-presence")).to_have_value("auto")

    # the lead's Reports page, open all along, shows it; so does the admin's Manage page
    expect(presence_cell(reports, agent)).to_have_text("Online", timeout=LIVE)
    manage = logged_in(browser, url, admin)
    manage.goto(url + reverse("manage:agents"))
    expect(presence_cell(manage, agent)).to_have_text("Online")
    screenshot(reports, "reports-presence-1280")
    screenshot(manage, "manage-agents-presence-1280")

    # the agent closes the page: Offline, live on Reports, and on Manage after a reload
    page.close()
    expect(presence_cell(reports, agent)).to_have_text("Offline", timeout=LIVE)
    manage.reload()
    expect(presence_cell(manage, agent)).to_have_text("Offline")


def test_away_chosen_in_the_top_bar_sticks_after_a_reload(browser: Browser, live_server_url: str):
    url = live_server_url
    agent = make_agent(name="Bob Agent")
    lead = make_agent(name="Lena Lead", role=User.Role.LEAD)
    make_inbox(members=(agent, lead))
    page = logged_in(browser, url, agent)
    open_inbox(page, url)
    expect(page.locator("#my-presence-state")).to_have_text("Online")

    page.locator("#my-presence").select_option("away")
    expect(page.locator("#my-presence")).to_have_value("away")
    open_inbox(page, url)  # after the form's round trip, and again after a reload
    page.reload()
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()

    expect(page.locator("#my-presence")).to_have_value("away")
    expect(page.locator("#my-presence-state")).to_have_text("Away")
    reports = logged_in(browser, url, lead)
    reports.goto(url + reverse("inbox:reports"))
    expect(presence_cell(reports, agent)).to_have_text("Away")

    page.locator("#my-presence").select_option("auto")
    expect(page.locator("#my-presence-state")).to_have_text("Online")
    expect(presence_cell(reports, agent)).to_have_text("Online", timeout=LIVE)


@pytest.fixture
def quick_idle(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The live server (spawned after this) counts a page idle after 2 s instead of 10 minutes."""
    monkeypatch.setenv("PRESENCE_AWAY_AFTER", "2")
    yield


def test_an_idle_page_goes_away_and_a_key_brings_the_agent_back(
    browser: Browser, quick_idle: None, live_server_url: str
):
    url = live_server_url
    agent = make_agent(name="Cleo Agent")
    lead = make_agent(name="Lena Lead", role=User.Role.LEAD)
    make_inbox(members=(agent, lead))
    page = logged_in(browser, url, agent)
    open_inbox(page, url)
    expect(page.locator("#presence-form")).to_have_attribute("data-away-after", "2")
    reports = logged_in(browser, url, lead)
    reports.goto(url + reverse("inbox:reports"))

    # nobody touches the agent's page
    expect(page.locator("#my-presence-state")).to_have_text("Away", timeout=LIVE)
    expect(presence_cell(reports, agent)).to_have_text("Away", timeout=LIVE)

    # the agent presses a key, and keeps working (else the page is idle again 2 s later)
    page.keyboard.press("Shift")
    expect(page.locator("#my-presence-state")).to_have_text("Online", timeout=LIVE)
    for _ in range(LIVE // 250):
        page.keyboard.press("Shift")
        if presence_cell(reports, agent).inner_text().strip() == "Online":
            break
        page.wait_for_timeout(250)
    expect(presence_cell(reports, agent)).to_have_text("Online", timeout=1000)
