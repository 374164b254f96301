"""The whole reply flow with the keyboard alone: skip link and Tab, j/k through the list, r to reply, Enter to
send, Esc out of the box, a to assign, e to resolve; and wherever focus lands it is visible."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from inbox.models import Conversation, Message
from inbox.services.inboxes import inbox_member_add
from tests.e2e.conftest import LiveX
from tests.factories import make_agent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FOCUS_RING = """() => {
  const element = document.activeElement;
  if (!element || element === document.body || !element.matches(":focus-visible")) return null;
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  const clipped = style.clip.startsWith("rect") || style.clipPath !== "none"; // a "visually hidden" control
  const visible = !clipped && box.width > 2 && box.height > 2 && box.bottom > 0 && box.top < innerHeight;
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== "none";
  return { tag: element.tagName, text: (element.textContent || element.getAttribute("aria-label") || "").trim(),
           visible, ring };
}"""


def focused(page: Page) -> dict:
    """What has the keyboard focus, whether it is on screen and whether it shows a focus ring."""
    state = page.evaluate(FOCUS_RING)
    assert state is not None, "nothing visibly focused (focus is on the page itself or shows no :focus-visible)"
    return state


def assert_focus_visible(page: Page) -> dict:
    state = focused(page)
    assert state["visible"] and state["ring"], f"the focused element shows no focus ring: {state}"
    return state


def test_an_agent_replies_assigns_and_resolves_with_the_keyboard_alone(browser: Browser, x_live: LiveX):
    alice = make_agent(name="Alice Agent", email="alice@example.test")
    inbox_member_add(inbox=x_live.inbox, user=alice)
    for n, text in enumerate(["Where is my parcel?", "Can I change my address?"]):
        customer = x_live.customer(username=f"keys_{n}", name=f"Key Customer {n}")
        x_live.customer_writes(text, customer=customer)
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    page.goto(x_live.url + "/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()
    heading = page.locator("#thread-title")

    # Tab: the skip link first, visible when focused; Enter moves on into the page's content
    page.keyboard.press("Tab")
    assert assert_focus_visible(page)["text"] == "Skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert_focus_visible(page)
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")

    # Tab on to the list; j / k through the conversations (the newest first), the focus going along
    rows = page.get_by_role("list", name="Conversations").locator("li.row a.row-link")
    for _ in range(40):
        if page.evaluate("document.activeElement.matches('a.row-link')"):
            break
        page.keyboard.press("Tab")
    expect(rows.first).to_be_focused()
    page.keyboard.press("j")
    expect(heading).to_contain_text("Key Customer 1")
    page.keyboard.press("j")
    expect(heading).to_contain_text("Key Customer 0")
    expect(rows.nth(1)).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.press("k")
    expect(heading).to_contain_text("Key Customer 1")
    expect(rows.first).to_be_focused()

    # r: the reply box, focused and showing it; type; Enter sends; the reply is in the thread
    page.keyboard.press("r")
    box = page.get_by_label("Reply to Key Customer 1")
    expect(box).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.type("We can change it until it ships.")
    page.keyboard.press("Enter")
    bubble = page.get_by_role("list", name="Messages").locator("li.outbound")
    expect(bubble).to_contain_text("We can change it until it ships.")
    expect(bubble.locator(".state")).to_have_text("Confirmed by X")
    expect(box).to_have_value("")

    # Esc leaves the box, so that the next letters are shortcuts again: a assigns, e resolves
    page.keyboard.press("Escape")
    expect(box).not_to_be_focused()
    page.keyboard.press("a")
    expect(page.locator("#thread-header")).to_contain_text("Assigned to Alice Agent")
    page.keyboard.press("e")
    expect(page.locator("#thread-header .badge")).to_have_text("Resolved")

    conversation = Conversation.objects.get(contact__name="Key Customer 1")
    assert conversation.assignee == alice and conversation.status == "resolved"
    assert list(Message.objects.filter(direction="outbound").values_list("text", flat=True)) == [
        "We can change it until it ships."
    ]


def test_header_buttons_work_from_tab_and_enter_and_focus_stays_in_the_header(browser: Browser, x_live: LiveX):
    alice = make_agent(name="Alice Agent", email="alice@example.test")
    inbox_member_add(inbox=x_live.inbox, user=alice)
    x_live.customer_writes("Hello?")
    conversation = Conversation.objects.get()
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    page.goto(f"{x_live.url}/c/{conversation.pk}/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()

    # Tab through the page until "Assign to me" has focus (no mouse), then press Enter
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Assign to me":
            break
    else:
        pytest.fail("Tab never reached the 'Assign to me' button")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    expect(page.locator("#thread-header")).to_contain_text("Assigned to Alice Agent")
    # the header was redrawn: the keyboard user is not thrown back to the top of the page
    expect(page.get_by_role("button", name="Unassign me")).to_be_focused()
    assert_focus_visible(page)
    assert Conversation.objects.get().assignee == alice
    assert re.fullmatch(r".*/c/\d+/.*", page.url)


def test_every_control_reached_by_tab_shows_where_the_focus_is(browser: Browser, x_live: LiveX):
    alice = make_agent(name="Alice Agent", email="alice@example.test")
    inbox_member_add(inbox=x_live.inbox, user=alice)
    x_live.customer_writes("Hello?")
    conversation = Conversation.objects.get()
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    page.goto(f"{x_live.url}/c/{conversation.pk}/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()

    seen: list[str] = []
    unseen: list[str] = []
    for _ in range(120):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_RING)
        if state is None:
            continue
        label = f"{state['tag']} {' '.join(state['text'].split())[:40]!r}"
        if seen and label == seen[0]:
            break  # once round the page, back at the skip link
        seen.append(label)
        if not (state["visible"] and state["ring"]):
            unseen.append(f"{label}: {state}")
    else:
        pytest.fail(f"Tab never came back round to the skip link: {seen}")
    assert "BUTTON 'Send'" in seen and "BUTTON 'Assign to me'" in seen, seen
    assert not unseen, "focused but not visibly:\n" + "\n".join(unseen)
