"""Alerts for new customer messages in Chromium, with DMs from the sandbox arriving through the webhook: the
unread count in the tab's title, the desktop notification (permission granted to the context), the sound
and its mute button, and nothing for the conversation the agent has in front of them.

``window.Notification`` and ``HTMLMediaElement.play`` are wrapped by an init script that records each call,
then does what the browser does."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from inbox.models import Conversation, Message
from inbox.services.inboxes import inbox_member_add
from tests.e2e.conftest import LiveX
from tests.factories import make_agent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIVE = 15_000  # ms: the deadline for "appears live"

RECORD = """
window.recorded = { notifications: [], sounds: [], permissionRequests: 0 };
const RealNotification = window.Notification;
class RecordingNotification extends RealNotification {
  constructor(title, options = {}) {
    window.recorded.notifications.push({ title, body: options.body, tag: options.tag });
    super(title, options);
  }
  static get permission() { return RealNotification.permission; }
  static requestPermission(...args) {
    window.recorded.permissionRequests += 1;
    return RealNotification.requestPermission(...args);
  }
}
window.Notification = RecordingNotification;
const realPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  window.recorded.sounds.push(this.src);
  return realPlay.call(this);
};
"""


def agent_page(browser: Browser, x_live: LiveX, name: str = "Alice Agent") -> tuple[Page, User]:
    agent = make_agent(name=name, email=f"{name.split()[0].lower()}@example.test")
    inbox_member_add(inbox=x_live.inbox, user=agent)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, permissions=["notifications"])
    context.add_init_script(RECORD)
    return x_live.login(context, agent), agent


def open_inbox(page: Page, x_live: LiveX, path: str = "/") -> None:
    page.goto(x_live.url + path)
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()
    expect(page.locator("[data-inbox][data-alert-answers]")).to_be_attached()  # the first count came back


def recorded(page: Page, kind: str) -> list:
    return page.evaluate(f"window.recorded.{kind}")


def wait_until_alerts_decided(page: Page, sent: dict) -> None:
    """Until the page has acted on the answer about alerts it asked after it heard of the DM ``sent``."""
    message = Message.objects.get(x_event_id=sent["dm_event_id"])
    expect(page.locator("[data-inbox]")).to_have_attribute(
        "data-alert-heard", re.compile(rf"(^| ){message.pk}( |$)"), timeout=LIVE
    )


def test_a_customer_dm_raises_the_title_count_notifies_and_sounds_and_reading_it_lowers_the_count(
    browser: Browser, x_live: LiveX
):
    page, _ = agent_page(browser, x_live)
    open_inbox(page, x_live)
    expect(page).to_have_title("Inbox · Backchannel")

    x_live.customer_writes("Where is my order?")

    expect(page).to_have_title("(1) Inbox · Backchannel", timeout=LIVE)
    page.wait_for_function("window.recorded.notifications.length === 1")
    [notification] = recorded(page, "notifications")
    conversation = Conversation.objects.get()
    assert notification["body"] == "Where is my order?"
    assert notification["title"] == conversation.contact.display_name
    assert notification["tag"] == f"conversation-{conversation.pk}"
    assert len(recorded(page, "sounds")) == 1 and recorded(page, "sounds")[0].endswith("/sounds/new-message.wav")

    other = x_live.customer(username="second_customer", name="Sam Second")
    x_live.customer_writes("Hello?", customer=other)
    expect(page).to_have_title("(2) Inbox · Backchannel", timeout=LIVE)

    page.get_by_role("list", name="Conversations").get_by_role("link").filter(has_text="Sam Second").click()
    expect(page.get_by_role("list", name="Messages").get_by_text("Hello?")).to_be_visible()
    expect(page).to_have_title("(1) Inbox · Backchannel", timeout=LIVE)


def test_nothing_for_the_conversation_in_front_of_the_agent(browser: Browser, x_live: LiveX):
    x_live.customer_writes("First message")
    conversation = Conversation.objects.get()
    page, _ = agent_page(browser, x_live)
    open_inbox(page, x_live, f"/c/{conversation.pk}/")
    expect(page).to_have_title(re.compile(r"^[^(].* · Inbox · Backchannel$"))  # read on opening: no count

    sent = x_live.customer_writes("Are you there?")

    expect(page.get_by_role("list", name="Messages").get_by_text("Are you there?")).to_be_visible(timeout=LIVE)
    wait_until_alerts_decided(page, sent)
    assert recorded(page, "notifications") == []
    assert recorded(page, "sounds") == []
    expect(page).to_have_title(re.compile(r"^[^(].* · Inbox · Backchannel$"))


def test_a_muted_agent_hears_nothing_but_is_still_notified_and_the_mute_is_remembered(browser: Browser, x_live: LiveX):
    page, alice = agent_page(browser, x_live)
    open_inbox(page, x_live)
    mute = page.get_by_role("button", name="Mute sound")
    expect(mute).to_have_attribute("aria-pressed", "false")
    violations = Axe().run(page, context="#alert-controls").response["violations"]
    assert [(v["id"], v["impact"]) for v in violations if v["impact"] in ("serious", "critical")] == []

    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("document.getElementById('alert-controls').dataset.sound === 'off'")
    x_live.customer_writes("Quietly: my parcel is late")

    expect(page).to_have_title("(1) Inbox · Backchannel", timeout=LIVE)
    page.wait_for_function("window.recorded.notifications.length === 1")
    assert recorded(page, "sounds") == []
    alice.preferences.refresh_from_db()
    assert alice.preferences.sound is False
    page.reload()
    expect(page.get_by_role("button", name="Mute sound")).to_have_attribute("aria-pressed", "true")
    expect(page).to_have_title("(1) Inbox · Backchannel")  # the count is there on arrival too


def test_views_turned_off_do_not_alert(browser: Browser, x_live: LiveX):
    page, _ = agent_page(browser, x_live)
    page.goto(x_live.url + "/me/preferences/")
    page.get_by_label("Unassigned").uncheck()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()
    open_inbox(page, x_live)

    sent = x_live.customer_writes("Nobody's yet")

    expect(page.get_by_role("list", name="Conversations").locator("li.row")).to_have_count(1, timeout=LIVE)
    wait_until_alerts_decided(page, sent)
    assert recorded(page, "notifications") == [] and recorded(page, "sounds") == []
    expect(page).to_have_title("Inbox · Backchannel")


def test_the_preferences_page_asks_for_notifications_only_when_pressed_and_plays_the_sound(
    browser: Browser, x_live: LiveX
):
    agent = make_agent(name="Bea Agent", email="bea@example.test")
    undecided = browser.new_context()
    undecided.add_init_script(RECORD)
    page = x_live.login(undecided, agent)
    granted = browser.new_context(permissions=["notifications"])
    granted.add_init_script(RECORD)
    allowed_page = x_live.login(granted, agent)

    page.goto(x_live.url + "/me/preferences/")
    allowed_page.goto(x_live.url + "/me/preferences/")

    ask = page.get_by_role("button", name="Allow desktop notifications")
    expect(ask).to_be_visible()
    assert recorded(page, "permissionRequests") == 0  # never on load
    ask.click()
    page.wait_for_function("window.recorded.permissionRequests === 1")
    expect(allowed_page.get_by_role("button", name="Allow desktop notifications")).to_be_hidden()
    expect(allowed_page.locator("#notification-state")).to_have_text("This browser shows them.")
    allowed_page.get_by_role("button", name="Play it").click()
    allowed_page.wait_for_function("window.recorded.sounds.length === 1")
    assert recorded(allowed_page, "sounds")[0].endswith("/sounds/new-message.wav")
