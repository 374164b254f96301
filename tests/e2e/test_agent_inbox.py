"""The agent inbox in Chromium: live DMs from the sandbox, two agents at once, replies reaching the customer,
hostile text, the keyboard, a lost connection, drafts, and the layout at desktop and phone widths."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from inbox import realtime
from inbox.models import Conversation, Message
from inbox.services.inboxes import inbox_member_add
from tests.e2e.conftest import LiveX
from tests.factories import make_agent
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIVE = 15_000  # ms: the deadline for "appears live" (no reload); well under a second on an idle machine


def agent_of(x_live: LiveX, name: str, role: str = User.Role.AGENT) -> User:
    user = make_agent(name=name, role=role, email=f"{name.split()[0].lower()}@example.test")
    inbox_member_add(inbox=x_live.inbox, user=user)
    return user


def open_inbox(page: Page, x_live: LiveX, path: str = "/") -> None:
    page.goto(x_live.url + path)
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()
    page.evaluate("window.stillTheSamePage = true")


def rows(page: Page):
    return page.get_by_role("list", name="Conversations").locator("li.row")


def timeline(page: Page):
    return page.get_by_role("list", name="Messages")


def test_a_customer_dm_appears_live_in_the_list_and_the_open_thread(browser: Browser, x_live: LiveX, screenshot):
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("Hi, my order #1001 is late")
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live)
    expect(rows(page)).to_have_count(1)

    rows(page).first.get_by_role("link").click()
    expect(timeline(page).get_by_text("Hi, my order #1001 is late")).to_be_visible()
    x_live.customer_writes("Any news? 📦")

    expect(timeline(page).get_by_text("Any news? 📦")).to_be_visible(timeout=LIVE)
    expect(rows(page).first).to_contain_text("Any news? 📦")
    expect(page.locator('[data-count="open"]')).to_have_text("1")
    other = x_live.customer(username="new_customer", name="Nadia New")
    x_live.customer_writes("Hello from someone new", customer=other)
    expect(rows(page)).to_have_count(2, timeout=LIVE)
    expect(rows(page).first).to_contain_text("Nadia New")
    expect(rows(page).first).to_have_class(re.compile(r"\bunread\b"))
    expect(page.locator('[data-count="open"]')).to_have_text("2", timeout=LIVE)
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "inbox-thread-1280x800")


def test_two_agents_one_assigns_the_other_sees_it_live_and_who_is_viewing(browser: Browser, x_live: LiveX):
    alice, bob = agent_of(x_live, "Alice Agent"), agent_of(x_live, "Bob Agent")
    x_live.customer_writes("Can someone help?")
    conversation = Conversation.objects.get()
    alice_page = x_live.login(browser.new_context(), alice)
    bob_page = x_live.login(browser.new_context(), bob)
    open_inbox(alice_page, x_live, f"/c/{conversation.pk}/")
    open_inbox(bob_page, x_live, f"/c/{conversation.pk}/")

    expect(alice_page.locator("#presence")).to_have_text("Bob Agent is viewing", timeout=LIVE)
    bob_page.get_by_label(re.compile("^Reply to")).press_sequentially("Let me ch")
    expect(alice_page.locator("#presence")).to_have_text("Bob Agent is replying", timeout=LIVE)

    alice_page.get_by_role("button", name="Assign to me").click()

    expect(bob_page.locator("#thread-header")).to_contain_text("Assigned to Alice Agent", timeout=LIVE)
    expect(rows(bob_page).first).to_contain_text("Alice Agent")
    expect(bob_page.locator('[data-count="unassigned"]')).to_have_text("0", timeout=LIVE)
    # an agent cannot take a conversation someone else has: Bob is told who has it, nothing changes
    bob_page.get_by_role("button", name="Assign to me").click()
    expect(bob_page.get_by_role("alert")).to_contain_text("Already assigned to Alice Agent")
    assert Conversation.objects.get().assignee == alice
    assert bob_page.evaluate("window.stillTheSamePage") is True


def question_open(browser: Browser, x_live: LiveX) -> tuple[Page, Conversation]:
    """The customer asks where their refund is; Alice, an agent, has the conversation open at 1280×800."""
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("Where is my refund?")
    conversation = Conversation.objects.get()
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live, f"/c/{conversation.pk}/")
    return page, conversation


def test_an_agents_reply_reaches_the_customer_and_its_state_updates_live(browser: Browser, x_live: LiveX, screenshot):
    page, _ = question_open(browser, x_live)

    box = page.get_by_label(re.compile("^Reply to"))
    box.fill("It went out today.")
    box.press("Shift+Enter")
    box.press_sequentially("Expect it in 3 days 🙂")
    box.press("Enter")

    bubble = timeline(page).locator("li.outbound")
    expect(bubble).to_contain_text("It went out today.\nExpect it in 3 days 🙂")
    expect(bubble.locator(".state")).to_have_text("Confirmed by X", timeout=LIVE * 2)
    expect(box).to_have_value("")
    expect(page.locator("#budget")).to_contain_text("199 of 200 left this 15 minutes", timeout=LIVE)
    sent = Message.objects.get(direction="outbound")
    at_x = x_live.sandbox.api(
        "GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events", x_live.sandbox.token("AcmeSupport")
    ).json()["data"]
    assert [e["text"] for e in at_x if e["id"] == sent.x_event_id] == ["It went out today.\nExpect it in 3 days 🙂"]
    assert Message.objects.filter(direction="outbound").count() == 1

    # what the customer does on X shows up live: typing, then reading our reply
    x_live.sandbox.control("POST", f"users/{CUSTOMER_ID}/typing", {"to": BUSINESS_ID})
    expect(page.locator("#typing")).to_contain_text("is typing…", timeout=LIVE)
    x_live.sandbox.control(
        "POST", f"users/{CUSTOMER_ID}/read", {"to": BUSINESS_ID, "last_read_event_id": sent.x_event_id}
    )
    expect(bubble.locator(".state.seen")).to_have_text("Seen", timeout=LIVE)
    screenshot(page, "inbox-reply-confirmed-1280x800")


def test_seen_stays_when_a_message_fetched_before_the_receipt_lands_after_it(browser: Browser, x_live: LiveX):
    # given our reply, confirmed by X, on the agent's screen
    page, conversation = question_open(browser, x_live)
    box = page.get_by_label(re.compile("^Reply to"))
    box.fill("It went out today.")
    box.press("Enter")
    bubble = timeline(page).locator("li.outbound")
    expect(bubble.locator(".state")).to_have_text("Confirmed by X", timeout=LIVE * 2)
    sent = Message.objects.get(direction="outbound")

    # and an update of it whose fragment the page fetched before the customer read it, held back
    held: list = []
    page.route(f"**/c/{conversation.pk}/messages/{sent.pk}/", lambda route: held.append((route, route.fetch())))
    realtime.publish_message(sent, event="message.updated")
    realtime.flush()
    deadline = time.monotonic() + LIVE / 1000
    while not held:
        assert time.monotonic() < deadline, "the page never fetched the updated message"
        page.wait_for_timeout(50)
    bubble.evaluate("item => { item.dataset.before = 'yes'; }")

    # when the customer reads it, and only then the held fragment (without "Seen") lands
    x_live.sandbox.control(
        "POST", f"users/{CUSTOMER_ID}/read", {"to": BUSINESS_ID, "last_read_event_id": sent.x_event_id}
    )
    expect(bubble.locator(".state.seen")).to_have_text("Seen", timeout=LIVE)
    route, response = held[0]
    route.fulfill(response=response)
    expect(timeline(page).locator("li.outbound:not([data-before])")).to_have_count(1, timeout=LIVE)

    # then the message the page now shows is still marked seen
    expect(bubble.locator(".state.seen")).to_have_text("Seen")


def test_hostile_names_and_text_render_as_text_and_run_nothing(browser: Browser, x_live: LiveX, screenshot):
    alice = agent_of(x_live, "Alice Agent")
    hostile_name = "<img src=x onerror=window.pwned=1>Eve<b>"  # X allows 50 characters
    eve = x_live.customer(
        username="eve_x", name=hostile_name, description='<a href="javascript:window.pwned=3">bio</a>'
    )
    texts = [
        "<script>window.pwned=4</script>",
        '<img src=x onerror="window.pwned=5">',
        "javascript:window.pwned=6",
        '<a href="javascript:window.pwned=7">click me</a>',
        "<svg onload=window.pwned=8>",
    ]
    for text in texts:
        x_live.customer_writes(text, customer=eve)
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live, f"/c/{Conversation.objects.get().pk}/")

    for text in texts:
        expect(timeline(page).get_by_text(text, exact=True)).to_be_visible()
    expect(page.locator("#thread-title")).to_contain_text(hostile_name)
    expect(rows(page).first).to_contain_text(hostile_name)
    expect(page.locator("#sidebar")).to_contain_text('<a href="javascript:window.pwned=3">bio</a>')
    for link in page.locator("a[href]").all():
        assert not link.get_attribute("href").lower().startswith("javascript"), link.get_attribute("href")
    page.get_by_text('<a href="javascript:window.pwned=7">click me</a>').click()
    assert page.evaluate("window.pwned") is None
    assert page.locator("#timeline script, #timeline img[src=x], #timeline svg").count() == 0
    screenshot(page, "inbox-hostile-text-1280x800")


def test_keyboard_moves_through_conversations_and_acts(browser: Browser, x_live: LiveX):
    alice = agent_of(x_live, "Alice Agent")
    for n in range(3):
        customer = x_live.customer(username=f"kb_{n}", name=f"Keyboard Customer {n}")
        x_live.customer_writes(f"message {n}", customer=customer)
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live)
    heading = page.locator("#thread-title")

    page.keyboard.press("j")
    expect(heading).to_contain_text("Keyboard Customer 2")
    page.keyboard.press("j")
    expect(heading).to_contain_text("Keyboard Customer 1")
    page.keyboard.press("k")
    expect(heading).to_contain_text("Keyboard Customer 2")
    expect(rows(page).first).to_have_class(re.compile(r"\bselected\b"))

    page.keyboard.press("a")
    expect(page.locator("#thread-header")).to_contain_text("Assigned to Alice Agent")
    page.keyboard.press("e")
    expect(page.locator("#thread-header")).to_contain_text("Resolved")
    expect(rows(page)).to_have_count(2)  # resolved: no longer in "All open"

    page.keyboard.press("r")
    expect(page.get_by_label(re.compile("^Reply to"))).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.get_by_label("Search by name, @handle or message text")).to_be_focused()
    page.keyboard.type("Customer 1")
    page.keyboard.press("Enter")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Keyboard Customer 1")
    page.locator("body").press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    assert Conversation.objects.filter(status="resolved", assignee=alice).count() == 1


def test_after_a_lost_connection_the_page_catches_up(browser: Browser, x_live: LiveX):
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("first")
    conversation = Conversation.objects.get()
    page = x_live.login(browser.new_context(), alice)
    open_inbox(page, x_live, f"/c/{conversation.pk}/")

    page.evaluate("window.backchannel.socket.suspend()")
    expect(page.get_by_text("Connection lost. Reconnecting…")).to_be_visible()
    x_live.customer_writes("sent while the agent was offline")
    other = x_live.customer(username="offline_other", name="Olga Offline")
    x_live.customer_writes("a new conversation meanwhile", customer=other)
    Conversation.objects.filter(pk=conversation.pk).update(assignee=alice)
    page.wait_for_timeout(500)
    expect(timeline(page).get_by_text("sent while the agent was offline")).to_have_count(0)

    page.evaluate("window.backchannel.socket.resume()")

    expect(timeline(page).get_by_text("sent while the agent was offline")).to_be_visible(timeout=LIVE)
    expect(rows(page).filter(has_text="Olga Offline")).to_have_count(1)
    expect(page.locator("#thread-header")).to_contain_text("Assigned to Alice Agent")
    expect(page.locator('[data-count="open"]')).to_have_text("2")
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_draft_survives_navigation_and_the_counter_stops_at_xs_limit(browser: Browser, x_live: LiveX):
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("one")
    other = x_live.customer(username="drafty", name="Dora Draft")
    x_live.customer_writes("two", customer=other)
    first, second = Conversation.objects.order_by("pk")
    page = x_live.login(browser.new_context(), alice)
    open_inbox(page, x_live, f"/c/{first.pk}/")

    page.get_by_label(re.compile("^Reply to")).fill("half-written answer")
    rows(page).filter(has_text="Dora Draft").get_by_role("link").click()
    expect(page.locator("#thread-title")).to_contain_text("Dora Draft")
    expect(page.get_by_label(re.compile("^Reply to"))).to_have_value("")
    page.go_back()
    expect(page.get_by_label(re.compile("^Reply to"))).to_have_value("half-written answer")
    page.reload()
    expect(page.get_by_label(re.compile("^Reply to"))).to_have_value("half-written answer")

    page.get_by_label(re.compile("^Reply to")).fill("x" * 10_001)
    expect(page.locator("#composer-counter")).to_have_text("10,001 / 10,000")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page.locator("#composer-error")).to_have_text("X allows 10,000 characters in a DM; remove 1.")
    assert not Message.objects.filter(direction="outbound").exists()


def test_the_inbox_works_at_phone_width(browser: Browser, x_live: LiveX, screenshot):
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("Hello from my phone")
    page = x_live.login(browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True), alice)
    open_inbox(page, x_live)
    screenshot(page, "inbox-list-390", full_page=True)

    rows(page).first.get_by_role("link").click()
    expect(timeline(page).get_by_text("Hello from my phone")).to_be_visible()
    expect(page.get_by_role("list", name="Conversations")).to_be_hidden()
    screenshot(page, "inbox-thread-390", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"
    page.get_by_role("link", name="← Conversations").click()
    expect(page.get_by_role("list", name="Conversations")).to_be_visible()


def test_a_reply_x_refuses_shows_xs_reason_in_the_thread(browser: Browser, x_live: LiveX, screenshot):
    alice = agent_of(x_live, "Alice Agent")
    closed = x_live.customer(username="closed_dms", name="Carl Closed", accepts_dms=False)
    x_live.customer_writes("Answer me in public please", customer=closed)
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live, f"/c/{Conversation.objects.get().pk}/")

    page.get_by_label(re.compile("^Reply to")).fill("Sorry to hear that, Carl")
    page.get_by_label(re.compile("^Reply to")).press("Enter")

    bubble = timeline(page).locator("li.outbound")
    expect(bubble.locator(".state")).to_have_text("Failed", timeout=LIVE)
    reason = Message.objects.get(direction="outbound").error_detail
    assert reason.startswith("X refused this reply:"), reason
    expect(bubble.get_by_role("alert")).to_have_text(f"Not delivered: {reason}")
    expect(bubble.get_by_role("button", name="Retry")).to_be_visible()
    expect(bubble.get_by_text("Edit and retry")).to_be_visible()
    screenshot(page, "inbox-reply-refused-1280x800")


def test_undo_takes_a_reply_back_before_it_reaches_x(
    browser: Browser, queued_tasks, x_live: LiveX, celery_worker_process
):
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("Is the shop open on Sunday?")
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live, f"/c/{Conversation.objects.get().pk}/")
    box = page.get_by_label(re.compile("^Reply to"))

    box.fill("Oops, this was meant for someone else")
    box.press("Enter")
    bubble = timeline(page).locator("li.outbound")
    expect(bubble.locator(".state")).to_have_text("Queued")
    bubble.get_by_role("button", name="Undo").click()

    expect(bubble).to_have_count(0)
    expect(box).to_have_value("Oops, this was meant for someone else")
    box.fill("Yes, 10:00 to 16:00 on Sundays.")
    box.press("Enter")
    expect(bubble.locator(".state")).to_have_text("Confirmed by X", timeout=15_000)  # after the 5 s window
    expect(bubble.get_by_role("button", name="Undo")).to_have_count(0)
    at_x = x_live.sandbox.api(
        "GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events", x_live.sandbox.token("AcmeSupport")
    ).json()["data"]
    texts = [e.get("text") for e in at_x]
    assert texts.count("Yes, 10:00 to 16:00 on Sundays.") == 1
    assert "Oops, this was meant for someone else" not in texts
    assert list(Message.objects.filter(direction="outbound").values_list("text", flat=True)) == [
        "Yes, 10:00 to 16:00 on Sundays."
    ]


def test_a_snoozed_conversation_wakes_when_the_customer_writes(browser: Browser, x_live: LiveX):
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("I'll check with my bank and come back")
    conversation = Conversation.objects.get()
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live, f"/c/{conversation.pk}/")

    page.locator("#thread-header summary", has_text="More").click()  # the header's other actions
    page.get_by_role("button", name="Until the customer writes").click()

    expect(page.locator("#thread-header")).to_contain_text("Snoozed until the customer writes")
    expect(rows(page)).to_have_count(0, timeout=LIVE)
    expect(page.locator('[data-count="snoozed"]')).to_have_text("1", timeout=LIVE)
    x_live.customer_writes("The bank says the payment went through")

    expect(rows(page)).to_have_count(1, timeout=LIVE)
    expect(page.locator("#thread-header .badge")).to_have_text("Open", timeout=LIVE)
    expect(timeline(page).get_by_text("The bank says the payment went through")).to_be_visible()
    assert Conversation.objects.get().status == "open"


def test_a_lead_assigns_a_conversation_and_the_agent_sees_it_live_and_is_notified(browser: Browser, x_live: LiveX):
    lead, bob = agent_of(x_live, "Lena Lead", role=User.Role.LEAD), agent_of(x_live, "Bob Agent")
    x_live.customer_writes("Who can help me?")
    conversation = Conversation.objects.get()
    lead_page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), lead)
    bob_page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), bob)
    open_inbox(lead_page, x_live, f"/c/{conversation.pk}/")
    open_inbox(bob_page, x_live, "/?view=mine")
    expect(rows(bob_page)).to_have_count(0)

    lead_page.locator("#thread-header summary", has_text="More").click()
    lead_page.get_by_label("Assign to").select_option(label="Bob Agent")
    lead_page.get_by_role("button", name="Assign", exact=True).click()

    expect(lead_page.locator("#thread-header")).to_contain_text("Assigned to Bob Agent")
    expect(rows(bob_page)).to_have_count(1, timeout=LIVE)
    expect(bob_page.locator('[data-count="mine"]')).to_have_text("1", timeout=LIVE)
    expect(bob_page.locator("#bell-count")).to_have_text("1", timeout=LIVE)
    expect(bob_page.get_by_role("alert")).to_contain_text("Lena Lead assigned you the conversation with")
    assert Conversation.objects.get().assignee == bob
    bob_page.locator("#bell").click()
    expect(bob_page.get_by_role("heading", name="Notifications")).to_be_visible()
    bob_page.get_by_role("link", name=re.compile("Lena Lead assigned you")).click()
    expect(bob_page.locator("#thread-title")).to_contain_text(conversation.contact.display_name)


def test_priority_and_labels_from_the_header_show_in_the_list(browser: Browser, x_live: LiveX):
    from inbox.models import Label

    Label.objects.create(name="Refund", color="#ef4444")
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("I want my money back")
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live, f"/c/{Conversation.objects.get().pk}/")
    expect(rows(page).first).not_to_have_class(re.compile(r"\bunread\b"))  # opening it marked it read

    page.locator("#thread-header summary", has_text="More").click()
    page.get_by_label("Priority").select_option(label="High")
    expect(page.locator("#thread-header")).to_contain_text("High priority")
    page.get_by_role("checkbox", name="Refund").check()  # the menu stayed open
    page.get_by_role("button", name="Save labels").click()

    expect(page.locator("#thread-header .thread-meta .label-chip")).to_have_text("Refund")
    expect(rows(page).first.locator(".label-chip")).to_have_text("Refund")
    expect(rows(page).first).to_contain_text("High")
    conversation = Conversation.objects.get()
    assert conversation.priority == Conversation.Priority.HIGH
    assert list(conversation.labels.values_list("name", flat=True)) == ["Refund"]


def test_a_canned_response_is_inserted_with_slash_and_its_placeholders_filled(browser: Browser, x_live: LiveX):
    from inbox.models import CannedResponse

    CannedResponse.objects.create(
        shortcut="refund", title="Refund policy", body="Hi {{contact.name}}, refunds take 5 days. {{agent.name}}"
    )
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("Where is my refund?")
    conversation = Conversation.objects.get()
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live, f"/c/{conversation.pk}/")
    box = page.get_by_label(re.compile("^Reply to"))

    box.press_sequentially("/ref")
    expect(page.get_by_role("listbox", name="Canned responses").get_by_role("option")).to_have_text(
        re.compile(r"^/refund Refund policy: Hi .+, refunds take 5 days\. Alice Agent$")
    )
    box.press("Tab")

    expect(box).to_have_value(f"Hi {conversation.contact.name}, refunds take 5 days. Alice Agent")
    expect(page.get_by_role("listbox", name="Canned responses")).to_be_hidden()
    assert not Message.objects.filter(direction="outbound").exists()  # picking is not sending


def test_a_reply_is_held_when_the_customer_wrote_since_the_agent_opened_it(browser: Browser, x_live: LiveX):
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("My order is late")
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(page, x_live, f"/c/{Conversation.objects.get().pk}/")
    box = page.get_by_label(re.compile("^Reply to"))
    box.fill("Let me check the tracking.")

    x_live.customer_writes("Never mind, it just arrived!")
    expect(timeline(page).get_by_text("Never mind, it just arrived!")).to_be_visible(timeout=LIVE)
    box.press("Enter")

    prompt = page.locator("#collision")
    expect(prompt).to_contain_text("New message from the customer since you opened this conversation. Send anyway?")
    assert not Message.objects.filter(direction="outbound").exists()
    expect(box).to_have_value("Let me check the tracking.")
    prompt.get_by_role("button", name="Cancel").click()
    box.fill("Great, enjoy it!")
    box.press("Enter")  # the agent has seen the new message now: no prompt

    expect(timeline(page).locator("li.outbound")).to_contain_text("Great, enjoy it!")
    assert list(Message.objects.filter(direction="outbound").values_list("text", flat=True)) == ["Great, enjoy it!"]
