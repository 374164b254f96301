"""Every page at a phone's and a tablet's width: nothing scrolls sideways (the page is no wider than the
window), the top bar's menu reaches every link, and a screenshot of each main page at the three sizes is
saved under artifacts/screenshots/ to be looked at."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.workspace import Workspace, build_workspace

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def workspace(live_server_url: str) -> Workspace:
    return build_workspace(live_server_url)


def _inbox_ready(page: Page) -> None:
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()


def _contact_shown(page: Page) -> None:
    _inbox_ready(page)
    toggle = page.get_by_role("button", name="Contact details")
    if toggle.is_visible():
        toggle.click()
    expect(page.locator("#sidebar")).to_be_visible()
    expect(page.locator("#sidebar")).to_contain_text("Past conversations")


# (name, path from the workspace, who is logged in, what to wait for once loaded)
PAGES: list[tuple[str, Callable[[Workspace], str], str | None, Callable[[Page], None]]] = [
    ("inbox-list", lambda w: "/", "admin", _inbox_ready),
    ("inbox-thread", lambda w: f"/c/{w.conversation.pk}/", "admin", _inbox_ready),
    ("inbox-contact", lambda w: f"/c/{w.conversation.pk}/", "admin", _contact_shown),
    ("manage-agents", lambda w: "/manage/", "admin", lambda page: None),
    ("manage-agent", lambda w: f"/manage/agents/{w.lead.pk}/", "admin", lambda page: None),
    ("manage-teams", lambda w: "/manage/teams/", "admin", lambda page: None),
    ("manage-inboxes", lambda w: "/manage/inboxes/", "admin", lambda page: None),
    ("reports", lambda w: "/reports/", "admin", lambda page: None),
    ("audit-log", lambda w: "/audit/", "admin", lambda page: None),
    ("x-accounts", lambda w: "/settings/x-accounts/", "admin", lambda page: None),
    ("dm-links", lambda w: "/handoff/", "social", lambda page: None),
    ("dm-links-results", lambda w: "/handoff/links/", "social", lambda page: None),
    ("bulk-generation", lambda w: "/handoff/batches/", "social", lambda page: None),
    ("bulk-batch", lambda w: f"/handoff/batches/{w.batch_id}/", "social", lambda page: None),
    ("notifications", lambda w: "/notifications/", "admin", lambda page: None),
    ("settings-canned", lambda w: "/settings/canned-responses/", "admin", lambda page: None),
    ("preferences", lambda w: "/me/preferences/", "agent", lambda page: None),
    ("login", lambda w: "/accounts/login/", None, lambda page: None),
]


def visit(browser: Browser, workspace: Workspace, viewport: dict, name: str) -> Page:
    _, path, who, ready = next(entry for entry in PAGES if entry[0] == name)
    context = browser.new_context(viewport=viewport)
    page = workspace.page(context, getattr(workspace, who) if who else None)
    page.goto(workspace.url + path(workspace))
    ready(page)
    return page


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["390", "768"])
@pytest.mark.parametrize("name", [entry[0] for entry in PAGES])
def test_no_page_scrolls_sideways(browser: Browser, workspace: Workspace, name: str, viewport: dict):
    page = visit(browser, workspace, viewport, name)

    width = page_width(page)

    assert width <= viewport["width"], f"{name} is {width} px wide in a {viewport['width']} px window"


@pytest.mark.parametrize("viewport", [PHONE, TABLET, DESKTOP], ids=["390", "768", "1280"])
def test_screenshots_of_each_main_page(browser: Browser, workspace: Workspace, viewport: dict, screenshot):
    """Saved as artifacts/screenshots/<page>-<width>.png, to be looked at; each is also checked for width."""
    too_wide = {}
    for name, *_ in PAGES:
        page = visit(browser, workspace, viewport, name)
        screenshot(page, f"{name}-{viewport['width']}", full_page=True)
        if page_width(page) > viewport["width"]:
            too_wide[name] = page_width(page)
        page.context.close()

    assert not too_wide, f"wider than {viewport['width']} px: {too_wide}"


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["390", "768"])
def test_the_top_bar_menu_reaches_every_link(browser: Browser, workspace: Workspace, viewport: dict, screenshot):
    page = visit(browser, workspace, viewport, "reports")
    menu = page.get_by_role("button", name="Menu")
    expect(page.get_by_role("link", name="Manage")).to_be_hidden()
    expect(page.locator("#bell")).to_be_visible()  # the bell stays in the bar

    menu.click()

    expect(menu).to_have_attribute("aria-expanded", "true")
    for name in ("Reports", "DM links", "Manage", "Audit log", "X accounts"):
        link = page.get_by_role("navigation", name="Account").get_by_role("link", name=name, exact=True)
        expect(link).to_be_in_viewport(ratio=1)
    expect(page.get_by_role("button", name="Log out")).to_be_in_viewport(ratio=1)
    assert page_width(page) <= viewport["width"]
    screenshot(page, f"topbar-menu-{viewport['width']}")
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    expect(menu).to_be_focused()


def test_the_more_menu_fits_a_phone(browser: Browser, workspace: Workspace, screenshot):
    page = visit(browser, workspace, PHONE, "inbox-thread")
    page.locator("#thread-header summary", has_text="More").click()

    for label in ("Assign to", "Team", "Priority"):
        expect(page.get_by_label(label, exact=True)).to_be_in_viewport(ratio=1)
    box = page.locator(".more-menu").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    screenshot(page, "more-menu-390")
