"""The sandbox's customer simulator in a browser: a person writes to a business and sees replies live."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox

pytestmark = [pytest.mark.e2e]

LIVE = 15_000  # ms: the deadline for "appears live" (no reload), generous for a loaded machine
THREAD = f"/simulator/maria_codes/c/{CUSTOMER_ID}-{BUSINESS_ID}/"


def open_thread_as_maria(page: Page, sandbox: Sandbox) -> None:
    page.goto(sandbox.base_url + "/")
    page.get_by_role("link", name="Act as @maria_codes").click()
    expect(page.get_by_role("heading", name=re.compile("María Fernández"))).to_be_visible()
    page.get_by_label("To", exact=True).select_option("AcmeSupport")
    page.get_by_role("button", name="Open conversation").click()
    expect(page).to_have_url(sandbox.base_url + THREAD)


def offer(options: list[dict]) -> dict:
    """A control-API message from the business to María offering quick-reply options."""
    return {"to": "maria_codes", "text": "How can we help?", "quick_reply": {"type": "options", "options": options}}


def reply_as_business(sandbox: Sandbox, text: str) -> None:
    response = sandbox.api(
        "POST", f"/2/dm_conversations/with/{CUSTOMER_ID}/messages", sandbox.token("AcmeSupport"), json={"text": text}
    )
    assert response.status_code == 201, response.text


def test_customer_writes_and_the_business_reply_appears_without_reload(page: Page, sandbox: Sandbox, screenshot):
    open_thread_as_maria(page, sandbox)

    page.get_by_label("Message", exact=True).fill("My parcel is late 📦 — order #4417")
    page.get_by_role("button", name="Send").click()

    messages = page.get_by_role("list", name="Messages")
    expect(messages.get_by_text("My parcel is late 📦 — order #4417")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")

    reply_as_business(sandbox, "Sorry María! It ships today 🚚 <b>promise</b>")

    expect(messages.get_by_text("Sorry María! It ships today 🚚 <b>promise</b>")).to_be_visible(timeout=LIVE)
    assert page.evaluate("window.stillTheSamePage") is True

    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "simulator-thread-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "simulator-thread-390", full_page=True)


def test_quick_reply_options_appear_live_and_answer_with_a_click(page: Page, sandbox: Sandbox, screenshot):
    open_thread_as_maria(page, sandbox)
    options = [{"label": "Track my order", "metadata": "track"}, {"label": "Talk to a person", "metadata": "human"}]

    sandbox.control("POST", "users/AcmeSupport/messages", offer(options))
    page.get_by_role("button", name="Talk to a person").click(timeout=LIVE)

    expect(page.get_by_role("list", name="Messages").get_by_text("Talk to a person")).to_be_visible()
    expect(page.get_by_role("button", name="Track my order")).to_have_count(0)
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "simulator-quick-reply-1280")


def test_deep_link_opens_compose_with_the_text_prefilled(page: Page, sandbox: Sandbox, screenshot):
    text = "Hi @AcmeSupport! Order #4417 & café ☕ + 2\nsecond line"

    page.goto(sandbox.base_url + "/messages/compose?" + urlencode({"recipient_id": BUSINESS_ID, "text": text}))

    expect(page.get_by_role("heading", name=re.compile("Send a private message to Acme Support"))).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value(text)
    screenshot(page, "simulator-compose")
    page.get_by_label("You are").select_option("maria_codes")
    page.get_by_role("button", name="Send").click()

    expect(page).to_have_url(sandbox.base_url + THREAD)
    expect(page.get_by_role("list", name="Messages").get_by_text("second line")).to_be_visible()
    screenshot(page, "simulator-after-compose-1280")
