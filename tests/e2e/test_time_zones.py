"""Times in the agent's zone in Chromium: the browser's zone when the agent chose none (the context's
``timezone_id``), the profile's zone when they chose one, and the preferences page that chooses it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from accounts.models import AgentPreferences, User
from inbox.models import Conversation
from inbox.services.conversations import conversation_status_set
from inbox.services.inboxes import inbox_member_add
from tests.e2e.conftest import LiveX
from tests.factories import make_agent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEW_YORK, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")


def agent_in(browser: Browser, x_live: LiveX, *, browser_zone: str, width: int = 1280) -> tuple[Page, User]:
    agent = make_agent(name="Alice Agent", email="alice@example.test")
    inbox_member_add(inbox=x_live.inbox, user=agent)
    context = browser.new_context(viewport={"width": width, "height": 800}, timezone_id=browser_zone)
    return x_live.login(context, agent), agent


def open_thread(page: Page, x_live: LiveX, conversation: Conversation) -> None:
    page.goto(f"{x_live.url}/c/{conversation.pk}/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()


def day_month_year(value: datetime) -> str:
    return f"{value.day} {value:%b} {value.year}"


def test_snoozing_until_tomorrow_nine_means_nine_in_the_browsers_zone(browser: Browser, x_live: LiveX, screenshot):
    x_live.customer_writes("Can you call me back tomorrow morning?")
    conversation = Conversation.objects.get()
    page, _ = agent_in(browser, x_live, browser_zone="America/New_York")
    page.goto(x_live.url + "/")  # the first page learns the browser's zone (a cookie)...
    expect(page.locator("html")).to_have_attribute("data-time-zone-auto", "")
    open_thread(page, x_live, conversation)  # ...and the server renders the next ones in it
    expect(page.locator("html")).to_have_attribute("data-time-zone", "America/New_York")

    page.locator("#thread-header summary", has_text="More").click()  # the header's other actions
    page.get_by_role("button", name="Until tomorrow 09:00").click()

    tomorrow_nine = datetime.combine(
        datetime.now(NEW_YORK).date() + timedelta(days=1), datetime.min.time().replace(hour=9), tzinfo=NEW_YORK
    )
    header = page.locator("#thread-header")
    expect(header).to_contain_text(f"Snoozed until {day_month_year(tomorrow_nine)}, 09:00")
    conversation.refresh_from_db()
    assert conversation.snoozed_until == tomorrow_nine.astimezone(UTC)
    screenshot(page, "snoozed-new-york-1280")


def test_the_profiles_zone_wins_over_the_browsers_in_the_page_and_in_the_script(browser: Browser, x_live: LiveX):
    x_live.customer_writes("Ping")
    conversation = Conversation.objects.get()
    page, alice = agent_in(browser, x_live, browser_zone="America/New_York")
    AgentPreferences.objects.create(user=alice, time_zone="Asia/Tokyo")
    until = datetime.combine(datetime.now(UTC).date() + timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    conversation_status_set(conversation_id=conversation.pk, status="snoozed", actor=alice, snoozed_until=until)

    open_thread(page, x_live, conversation)

    expect(page.locator("html")).to_have_attribute("data-time-zone", "Asia/Tokyo")
    in_tokyo = until.astimezone(TOKYO)
    expect(page.locator(".snoozed-until time")).to_have_text(f"{day_month_year(in_tokyo)}, 09:00")
    # the script writes it the same way (it rewrites data-absolute times on load and every minute)
    written = page.evaluate(
        "async (iso) => (await import('/static/js/zone.js')).formatAbsolute(new Date(iso))", until.isoformat()
    )
    assert written == f"{day_month_year(in_tokyo)}, 09:00"


def test_the_preferences_page_saves_the_zone_and_the_alerts(browser: Browser, x_live: LiveX, screenshot):
    page, alice = agent_in(browser, x_live, browser_zone="Asia/Tokyo")
    page.goto(x_live.url + "/")
    page.get_by_role("link", name="Preferences").click()
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_value("")  # the browser's, until the agent chooses
    expect(page.get_by_role("option", name="My browser's (Asia/Tokyo)")).to_be_attached()

    zone.select_option("America/New_York")
    page.get_by_label("Sound").uncheck()
    page.get_by_label("My teams").uncheck()
    page.get_by_role("button", name="Save preferences").click()

    expect(page.get_by_text("Preferences saved.")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
    expect(page.get_by_label("Sound")).not_to_be_checked()
    expect(page.locator("html")).to_have_attribute("data-time-zone", "America/New_York")
    stored = AgentPreferences.objects.get(user=alice)
    assert (stored.time_zone, stored.sound, stored.notify_teams, stored.notify_mine) == (
        "America/New_York", False, False, True
    )  # fmt: skip
    now_there = datetime.now(NEW_YORK)
    minutes = {f"{moment:%H:%M}" for moment in (now_there - timedelta(minutes=1), now_there)}  # a minute may turn
    expect(page.locator("#time-zone-help time")).to_have_text(re.compile("^(" + "|".join(minutes) + ")$"))
    screenshot(page, "preferences-1280")
    # The form only: the top bar and the flash list are every page's (base.html), checked with those pages.
    violations = Axe().run(page, context="form.preferences").response["violations"]
    assert [(v["id"], v["impact"]) for v in violations if v["impact"] in ("serious", "critical")] == []
    for width in (390, 768):
        page.set_viewport_size({"width": width, "height": 844 if width == 390 else 1024})
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        screenshot(page, f"preferences-{width}")
