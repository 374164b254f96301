"""The open conversation in Chromium: the messages get the height the header and the composer leave, the
header is one row with the rest in a keyboard-usable "More" menu, a conversation opens at its newest message
and stays there while its images load late, a message that arrives while the agent reads older ones shows a
"New messages" button instead of moving the page, social managers get a read-only thread, and avatars that
cannot be loaded show initials."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Browser, Page, Route, expect

from inbox.models import Conversation
from tests.e2e.workspace import PHOTO, Workspace, add_photo, build_workspace, customer_writes, open_inbox

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
LIVE = 15_000  # ms: the deadline for "appears live"
FROM_END = "document.getElementById('timeline').scrollHeight - document.getElementById('timeline').scrollTop"
AT_END = f"() => {FROM_END} - document.getElementById('timeline').clientHeight <= 2"
SCROLLED_UP = f"() => {FROM_END} - document.getElementById('timeline').clientHeight > 400"
PHOTOS_LOADED = "() => [...document.querySelectorAll('#timeline img.media')].every((i) => i.complete && i.naturalWidth)"


@pytest.fixture
def workspace(live_server_url: str) -> Workspace:
    return build_workspace(live_server_url, messages=30, photos=0)


def timeline(page: Page):
    return page.get_by_role("list", name="Messages")


def messages_height(page: Page) -> float:
    return page.locator("#timeline").evaluate("(element) => element.getBoundingClientRect().height")


def distance_from_end(page: Page) -> float:
    return page.locator("#timeline").evaluate("(t) => t.scrollHeight - t.scrollTop - t.clientHeight")


def test_the_messages_get_the_height_the_header_and_composer_leave(browser: Browser, workspace: Workspace, screenshot):
    page = workspace.page(browser.new_context(viewport=DESKTOP), workspace.agent)
    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")
    expect(page.get_by_label(re.compile("^Reply to"))).to_be_visible()

    assert messages_height(page) >= 450, f"{messages_height(page)} px of messages with the composer open"
    page.get_by_text("Internal note", exact=True).click()
    expect(page.get_by_label("Internal note, only agents see it")).to_be_visible()
    assert messages_height(page) >= 450, f"{messages_height(page)} px of messages with a note open"
    page.get_by_text("Internal note", exact=True).click()

    page.get_by_label(re.compile("^Reply to")).fill("Let me check the tracking.")
    customer_writes(workspace.inbox, "Never mind, it just arrived!", at_minutes=179)
    expect(timeline(page).get_by_text("Never mind, it just arrived!")).to_be_visible(timeout=LIVE)
    page.get_by_label(re.compile("^Reply to")).press("Enter")
    expect(page.locator("#collision")).to_contain_text("Send anyway?")
    screenshot(page, "thread-collision-1280")
    assert messages_height(page) >= 450, f"{messages_height(page)} px of messages with the collision prompt open"


def test_the_header_is_one_row_and_its_other_actions_are_in_a_menu(browser: Browser, workspace: Workspace):
    page = workspace.page(browser.new_context(viewport=DESKTOP), workspace.lead)
    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")
    header = page.locator("#thread-header")

    title = page.locator("#thread-title").bounding_box()
    for name in ("Assign to me", "Resolve"):
        button = header.get_by_role("button", name=name, exact=True).bounding_box()
        assert button["y"] < title["y"] + title["height"] and title["y"] < button["y"] + button["height"], name
    more = header.locator("summary", has_text="More").bounding_box()
    assert more["y"] < title["y"] + title["height"] and title["y"] < more["y"] + more["height"]
    for hidden in ("Assign to", "Priority", "Team"):
        expect(page.get_by_label(hidden, exact=True)).to_be_hidden()
    expect(header.get_by_role("button", name="Pending")).to_be_hidden()

    header.locator("summary", has_text="More").click()

    for shown in ("Assign to", "Priority", "Team"):
        expect(page.get_by_label(shown, exact=True)).to_be_visible()
    expect(header.get_by_role("button", name="Pending")).to_be_visible()
    expect(header.get_by_role("button", name="Until the customer writes")).to_be_visible()


def test_the_more_menu_works_by_keyboard(browser: Browser, workspace: Workspace):
    page = workspace.page(browser.new_context(viewport=DESKTOP), workspace.agent)
    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")
    menu = page.locator("#thread-header details.thread-more")

    menu.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Priority", exact=True)).to_be_focused()
    violations = Axe().run(page, context="#thread").response["violations"]  # the header, its menu open, the composer
    assert [(v["id"], v["impact"]) for v in violations if v["impact"] in ("serious", "critical")] == []
    page.keyboard.press("ArrowDown")  # a select changes on the arrow keys; the header is posted and comes back

    expect(page.locator("#thread-header")).to_contain_text("Low priority")
    expect(page.get_by_label("Priority", exact=True)).to_be_focused()  # the same control, in the new header
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(menu.locator("summary")).to_be_focused()
    assert Conversation.objects.get(pk=workspace.conversation.pk).priority == Conversation.Priority.LOW


def test_a_conversation_opens_at_its_newest_message_and_stays_there_while_images_load(
    browser: Browser, workspace: Workspace, screenshot
):
    # three photos near the end whose size X did not say: their room is known only once they load
    photos = workspace.conversation.messages.filter(direction="inbound").order_by("-occurred_at")[:3]
    for message in photos:
        add_photo(message, sized=False)
    page = workspace.page(browser.new_context(viewport=DESKTOP), workspace.agent)
    held: list[Route] = []
    page.route("**/media/dm/**", lambda route: held.append(route))  # the images arrive when the test says so

    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")
    page.wait_for_function(AT_END)
    deadline = timezone.now() + timedelta(seconds=15)
    while len(held) < 3:
        assert timezone.now() < deadline, f"the browser asked for {len(held)} of the 3 photos"
        page.wait_for_timeout(50)
    before = page.locator("#timeline").evaluate("(t) => t.scrollHeight")
    for route in held:
        route.fulfill(status=200, content_type="image/png", body=PHOTO)
    page.wait_for_function(PHOTOS_LOADED)

    after = page.locator("#timeline").evaluate("(t) => t.scrollHeight")
    assert after - before >= 3 * 200, "the photos did not make the timeline taller: the test shows nothing"
    page.wait_for_function(AT_END)  # pinned: a ResizeObserver follows the growth
    assert distance_from_end(page) <= 2
    expect(timeline(page).locator("li.item").last).to_be_in_viewport()
    screenshot(page, "thread-opened-at-newest-1280")


def test_photos_whose_size_is_known_keep_their_place_while_they_load(browser: Browser, workspace: Workspace):
    photo = workspace.conversation.messages.filter(direction="inbound").order_by("-occurred_at").first()
    add_photo(photo, sized=True)
    page = workspace.page(browser.new_context(viewport=DESKTOP), workspace.agent)
    held: list[Route] = []
    page.route("**/media/dm/**", lambda route: held.append(route))

    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")
    image = timeline(page).locator("img.media")
    expect(image).to_be_attached()
    box_before = image.bounding_box()
    page.wait_for_function(AT_END)
    deadline = timezone.now() + timedelta(seconds=15)
    while not held:
        assert timezone.now() < deadline, "the browser never asked for the photo"
        page.wait_for_timeout(50)
    held[0].fulfill(status=200, content_type="image/png", body=PHOTO)
    page.wait_for_function("() => document.querySelector('#timeline img.media').naturalWidth > 0")

    box_after = image.bounding_box()
    assert box_before["height"] > 100 and abs(box_after["height"] - box_before["height"]) < 1
    assert abs(box_after["width"] / box_after["height"] - 480 / 360) < 0.02
    assert distance_from_end(page) <= 2


def test_a_new_message_while_reading_older_ones_shows_a_button_and_does_not_move_the_page(
    browser: Browser, workspace: Workspace, screenshot
):
    page = workspace.page(browser.new_context(viewport=DESKTOP), workspace.agent)
    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")
    page.wait_for_function(AT_END)
    pill = page.get_by_role("button", name="New messages")

    # at the end, a new message is simply shown
    customer_writes(workspace.inbox, "First new one", at_minutes=178)
    expect(timeline(page).get_by_text("First new one")).to_be_in_viewport(timeout=LIVE)
    page.wait_for_function(AT_END)
    expect(pill).to_be_hidden()

    # scrolled up to read: the page stays, the button appears
    page.locator("#timeline").hover()
    page.mouse.wheel(0, -600)
    page.wait_for_function(SCROLLED_UP)
    scrolled_to = page.locator("#timeline").evaluate("(t) => t.scrollTop")
    customer_writes(workspace.inbox, "Are you still there?", at_minutes=179)

    expect(pill).to_be_visible(timeout=LIVE)
    expect(timeline(page).get_by_text("Are you still there?")).to_be_attached()
    assert page.locator("#timeline").evaluate("(t) => t.scrollTop") == scrolled_to
    expect(timeline(page).get_by_text("Are you still there?")).not_to_be_in_viewport()
    screenshot(page, "thread-new-messages-pill-1280")
    pill.click()

    expect(pill).to_be_hidden()
    page.wait_for_function(AT_END)
    expect(timeline(page).get_by_text("Are you still there?")).to_be_in_viewport()


def test_a_social_manager_sees_a_read_only_thread(browser: Browser, workspace: Workspace):
    page = workspace.page(browser.new_context(viewport=DESKTOP), workspace.social)
    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")
    header = page.locator("#thread-header")
    expect(timeline(page).get_by_text("Checked with the warehouse")).to_be_visible()

    for name in ("Assign to me", "Unassign me", "Resolve", "Reopen", "Pending", "Snooze", "Until the customer writes"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(header.locator("details, select, form")).to_have_count(0)
    expect(page.locator("#composer")).to_have_count(0)
    expect(page.get_by_text("Internal note", exact=True)).to_have_count(0)
    expect(page.locator(".compose")).to_contain_text("Social managers read conversations")
    page.locator("body").press("a")  # the shortcuts find nothing to press
    page.locator("body").press("e")
    page.wait_for_timeout(300)
    expect(page.locator("#toast")).to_have_count(0)
    assert Conversation.objects.get(pk=workspace.conversation.pk).status == Conversation.Status.OPEN


def test_an_agent_sees_the_actions_a_social_manager_does_not(browser: Browser, workspace: Workspace):
    page = workspace.page(browser.new_context(viewport=DESKTOP), workspace.agent)
    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")

    expect(page.locator("#thread-header").get_by_role("button", name="Resolve")).to_be_visible()
    expect(page.locator("#thread-header details.thread-more")).to_have_count(1)
    expect(page.locator("#composer")).to_be_visible()


def test_avatars_that_cannot_be_loaded_show_initials(browser: Browser, workspace: Workspace, screenshot):
    good = "4000000"
    customer_writes(workspace.inbox, "My picture loads", at_minutes=170, customer=good, name="Gina Good",
                    avatar_url=f"{workspace.url}/avatars/gina.png")  # fmt: skip
    page = workspace.page(browser.new_context(viewport={"width": 1500, "height": 900}), workspace.agent)
    page.route("**/avatars/gina.png", lambda route: route.fulfill(status=200, content_type="image/png", body=PHOTO))
    open_inbox(page, f"{workspace.url}/c/{workspace.conversation.pk}/")
    broken = workspace.conversation.contact.avatar_url
    assert broken.endswith("avatar-that-is-gone.png")  # a 404 on the live server

    row = page.locator(f"#row-{workspace.conversation.pk}")
    for where in (row, page.locator("#thread-header"), page.locator("#sidebar")):
        expect(where.locator(".avatar .initials")).to_have_text("MF")
        expect(where.locator(".avatar .initials")).to_be_visible()
        expect(where.locator(".avatar img")).to_have_count(0)  # the failed image is gone, no broken icon
    gina = page.locator("li.row", has_text="Gina Good")
    expect(gina.locator(".avatar img")).to_be_visible()
    assert gina.locator(".avatar img").evaluate("(img) => img.complete && img.naturalWidth > 0")
    broken_images = page.evaluate("[...document.images].filter((i) => i.complete && !i.naturalWidth && i.src).length")
    assert broken_images == 0
    screenshot(page, "avatar-initials-1500")
