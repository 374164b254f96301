"""Login throttling in Chromium: a stranger's wrong passwords lock new browsers out of the account for a
stated number of minutes, while the browser the agent logged in from before still gets in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import PASSWORD, make_agent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(url + "/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_load_state()


def test_a_strangers_guesses_lock_new_browsers_out_for_minutes_but_not_the_agents_own(
    browser: Browser, live_server_url: str, screenshot, settings
):
    from django.core.cache import cache

    cache.clear()  # the limits of earlier tests (the same Redis database) must not count here
    url = live_server_url
    agent = make_agent(name="Alice Agent", email="alice@example.test")
    own = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(own, url, agent.email, PASSWORD)
    expect(own.locator("[data-inbox]")).to_be_attached()
    own.get_by_role("button", name="Log out").click()
    expect(own.locator("input[name=login]")).to_be_visible()

    stranger = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    for n in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        sign_in(stranger, url, agent.email, f"guess {n}")
        expect(stranger.get_by_text("not correct")).to_be_visible()
    sign_in(stranger, url, agent.email, PASSWORD)  # even the right one, from a browser the account never used

    expect(
        stranger.get_by_text("Too many failed attempts for this account from new devices. Try again in 15 minutes.")
    ).to_be_visible()
    assert stranger.evaluate("document.documentElement.scrollWidth <= innerWidth")
    screenshot(stranger, "login-locked-390")

    sign_in(own, url, agent.email, PASSWORD)
    expect(own.locator("[data-inbox]")).to_be_attached()
    cache.clear()
