"""Small things a person notices: right-to-left text shown right to left, the composer's counter with
thousands separators, the bell drawn without an emoji font."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from inbox.models import Conversation
from inbox.services.inboxes import inbox_member_add
from tests.e2e.conftest import LiveX
from tests.factories import make_agent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEBREW = "שלום, איפה ההזמנה שלי?"
ARABIC = "مرحبا، أين طلبي؟"


def reads(locator: Locator, direction: str) -> None:
    """The element's computed direction (waits for it: live updates may redraw the element)."""
    expect(locator).to_have_css("direction", direction)


def test_hebrew_and_arabic_text_reads_right_to_left_and_english_left_to_right(
    browser: Browser, x_live: LiveX, screenshot
):
    alice = make_agent(name="Alice Agent", email="alice@example.test")
    inbox_member_add(inbox=x_live.inbox, user=alice)
    customer = x_live.customer(username="dana_il", name="דנה כהן", description="أحب القهوة", location="תל אביב")
    x_live.customer_writes(ARABIC, customer=customer)
    x_live.customer_writes(HEBREW, customer=customer)
    english = x_live.customer(username="eng_customer", name="Erin English")
    x_live.customer_writes("Where is my order?", customer=english)
    conversation = Conversation.objects.get(contact__x_user_id=customer)
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    page.goto(f"{x_live.url}/c/{conversation.pk}/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()
    timeline = page.get_by_role("list", name="Messages")
    expect(timeline).to_contain_text(HEBREW)

    # the messages, the customer's name and bio, the list's name and snippet
    for text in (HEBREW, ARABIC):
        reads(timeline.locator("li.inbound .text", has_text=text), "rtl")
    row = f"#row-{conversation.pk}"
    reads(page.locator(f"{row} .name"), "rtl")
    reads(page.locator(f"{row} .snippet"), "rtl")
    reads(page.locator("#contact-title"), "rtl")
    reads(page.locator(".profile dd", has_text="أحب القهوة"), "rtl")
    # the page around them, and an English conversation, stay left to right
    reads(page.locator("#list-title"), "ltr")
    other = Conversation.objects.get(contact__x_user_id=english)
    reads(page.locator(f"#row-{other.pk} .snippet"), "ltr")

    # a note and a reply typed in Hebrew or Arabic: right to left while typing, and once sent
    page.locator("summary", has_text="Internal note").click()
    note_box = page.get_by_label("Internal note, only agents see it")
    note_box.fill("הלקוחה ביקשה החזר")
    assert note_box.evaluate("e => e.matches(':dir(rtl)')")
    page.get_by_role("button", name="Add note").click()
    expect(timeline.locator("li.note .text")).to_have_text("הלקוחה ביקשה החזר")
    reads(timeline.locator("li.note .text"), "rtl")
    box = page.get_by_label("Reply to דנה כהן")
    box.fill("شكرا، سنرسله اليوم")
    assert box.evaluate("e => e.matches(':dir(rtl)')")
    box.press("Enter")
    sent = timeline.locator("li.outbound .text")
    expect(sent).to_have_text("شكرا، سنرسله اليوم")
    reads(sent, "rtl")
    box.fill("Thanks!")
    assert box.evaluate("e => e.matches(':dir(ltr)')")
    box.fill("")
    screenshot(page, "thread-rtl-1280")


def test_the_composer_counter_has_thousands_separators_on_both_sides(browser: Browser, x_live: LiveX):
    alice = make_agent(name="Alice Agent", email="alice@example.test")
    inbox_member_add(inbox=x_live.inbox, user=alice)
    x_live.customer_writes("Hello")
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    page.goto(f"{x_live.url}/c/{Conversation.objects.get().pk}/")
    counter = page.locator("#composer-counter")
    expect(counter).to_have_text("0 / 10,000")

    page.get_by_label("Reply to").fill("x" * 1_234)
    expect(counter).to_have_text("1,234 / 10,000")
    page.get_by_label("Reply to").fill("x" * 10_001)
    expect(counter).to_have_text("10,001 / 10,000")
    expect(page.locator("#composer-error")).to_have_text("X allows 10,000 characters in a DM; remove 1.")


def logged_in(browser: Browser, url: str, user) -> Page:
    """A tab of ``user`` on the live server at ``url`` (a session made by Django's test client)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])
    return context.new_page()


def test_the_bell_is_a_drawn_icon_not_an_emoji(browser: Browser, live_server_url: str, screenshot):
    page = logged_in(browser, live_server_url, make_agent(name="Bell Agent", email="bell@example.test"))
    page.goto(live_server_url + "/notifications/")

    bell = page.get_by_role("link", name="Notifications: 0 unread")
    expect(bell).to_be_visible()
    icon = bell.locator("svg")
    expect(icon).to_have_attribute("aria-hidden", "true")
    box = icon.bounding_box()
    assert box and box["width"] >= 14 and box["height"] >= 14
    assert "🔔" not in page.content()
    expect(page.locator("#bell-count")).to_be_hidden()  # no "0" badge when nothing is unread
    screenshot(page, "notifications-1280")


def test_the_demo_photo_loads_in_its_conversation(browser: Browser, live_server_url: str, screenshot):
    from inbox.services.demo import demo_seed

    seed = demo_seed()
    agent = next(a for a in seed.agents if a.role == "agent")
    page = logged_in(browser, live_server_url, agent)
    page.goto(live_server_url + "/")
    page.get_by_role("list", name="Conversations").locator("li.row", has_text="Kenji Tanaka").get_by_role(
        "link"
    ).click()

    photo = page.get_by_role("button", name="Open photo").locator("img")
    expect(photo).to_be_visible()
    expect(page.get_by_text("is being copied from X")).to_have_count(0)
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=photo.element_handle())
    assert photo.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [390, 844]
    screenshot(page, "demo-photo-1280")
