"""axe-core (bundled in axe-playwright-python) run in Chromium on every main page: no serious or critical
violation. The assertion message lists each violation's rule, help text and the elements it found."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from inbox.models import Conversation, Label
from inbox.services.inboxes import inbox_member_add
from tests.e2e.conftest import LiveX
from tests.factories import PASSWORD, make_agent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BLOCKING = {"serious", "critical"}


def blocking_violations(page: Page) -> list[str]:
    """axe's serious and critical violations on the page as it is now, one line per element."""
    results = Axe().run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            lines.append(
                f"{violation['id']} ({violation['impact']}) at {node['target']}: {violation['help']}"
                f" — {node.get('failureSummary', '').replace(chr(10), ' ')}"
            )
    return lines


def assert_accessible(page: Page, what: str) -> None:
    found = blocking_violations(page)
    assert not found, f"axe on {what} ({page.url}):\n" + "\n".join(found)


def admin_of(x_live: LiveX) -> User:
    admin = make_agent(name="Ada Admin", role=User.Role.ADMIN, email="ada@example.test")
    inbox_member_add(inbox=x_live.inbox, user=admin)
    customer = x_live.customer(username="axe_customer", name="Axel Customer", description="Loves accessible apps")
    x_live.customer_writes("Hello, is my order on its way?", customer=customer)
    x_live.customer_writes("Any news?")
    return admin


@pytest.fixture
def admin_page(browser: Browser, x_live: LiveX) -> Page:
    Label.objects.create(name="Refund", color="#ef4444")
    return x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), admin_of(x_live))


def test_the_inbox_list_and_an_open_thread_have_no_serious_violation(admin_page: Page, x_live: LiveX, screenshot):
    page = admin_page
    page.goto(x_live.url + "/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()
    expect(page.locator("#conversation-list li.row")).to_have_count(2)
    assert_accessible(page, "the inbox list")

    conversation = Conversation.objects.filter(contact__name="Axel Customer").get()
    page.goto(f"{x_live.url}/c/{conversation.pk}/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()
    expect(page.get_by_role("list", name="Messages")).to_contain_text("Hello, is my order on its way?")
    expect(page.locator("#composer textarea")).to_be_visible()
    assert_accessible(page, "an open conversation with its composer")

    # the same conversation with a reply, an internal note and a label, and the note form open
    box = page.get_by_label("Reply to Axel Customer")
    box.fill("It left our warehouse this morning.")
    box.press("Enter")
    expect(page.locator("li.outbound .state")).to_have_text("Confirmed by X")
    page.locator("summary", has_text="Internal note").click()
    page.get_by_label("Internal note, only agents see it").fill("Customer asked twice")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("li.note")).to_contain_text("Customer asked twice")
    page.locator("summary", has_text="Internal note").click()
    page.locator("#thread-header summary", has_text="More").click()  # labels are in the header's More menu
    page.get_by_role("checkbox", name="Refund").check()
    page.get_by_role("button", name="Save labels").click()
    expect(page.locator("#thread-header .label-chip")).to_have_text("Refund")
    assert_accessible(page, "a conversation with a reply, a note and a label")
    screenshot(page, "thread-axe-1280")

    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    assert_accessible(page, "the keyboard shortcuts dialog")


def test_the_inbox_at_phone_width_has_no_serious_violation(browser: Browser, x_live: LiveX):
    agent = make_agent(name="Pia Phone", email="pia@example.test")
    inbox_member_add(inbox=x_live.inbox, user=agent)
    x_live.customer_writes("Hello from a phone")
    page = x_live.login(browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True), agent)
    page.goto(x_live.url + "/")
    expect(page.locator("#conversation-list li.row")).to_have_count(1)
    assert_accessible(page, "the inbox list at 390 px")
    page.locator("#conversation-list li.row a").click()
    expect(page.get_by_role("list", name="Messages")).to_contain_text("Hello from a phone")
    assert_accessible(page, "a conversation at 390 px")


ADMIN_PAGES = [
    ("Manage: agents", "/manage/", "Ada Admin"),
    ("Manage: teams", "/manage/teams/", "Teams"),
    ("Manage: inboxes", "/manage/inboxes/", "AcmeSupport"),
    ("Reports", "/reports/", "Reports"),
    ("DM links", "/handoff/", "Recent links"),
    ("DM links: bulk generation", "/handoff/batches/", "Bulk"),
    ("Notifications", "/notifications/", "Notifications"),
    ("Audit log", "/audit/", "Audit log"),
    ("X accounts", "/settings/x-accounts/", "AcmeSupport"),
]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_admin_pages_have_no_serious_violation(browser: Browser, x_live: LiveX, width: int):
    page = x_live.login(browser.new_context(viewport={"width": width, "height": 800 if width > 800 else 844}),
                        admin_of(x_live))  # fmt: skip
    found = []
    for what, path, ready in ADMIN_PAGES:
        page.goto(x_live.url + path)
        expect(page.locator("main")).to_contain_text(ready)
        found += [f"{what}: {line}" for line in blocking_violations(page)]
    assert not found, f"axe at {width} px:\n" + "\n".join(found)


def test_an_agents_detail_page_has_no_serious_violation(admin_page: Page, x_live: LiveX):
    agent = make_agent(name="Bea Agent", email="bea@example.test")
    admin_page.goto(f"{x_live.url}/manage/agents/{agent.pk}/")
    expect(admin_page.locator("main")).to_contain_text("Bea Agent")
    assert_accessible(admin_page, "Manage: an agent")


def test_the_login_page_has_no_serious_violation(browser: Browser, live_server_url: str):
    make_agent(name="Lou Login", email="lou@example.test")
    page = browser.new_page()
    page.goto(live_server_url + "/accounts/login/")
    expect(page.get_by_label("Email")).to_be_visible()
    assert_accessible(page, "the login page")
    # and with the form's error shown
    page.get_by_label("Email").fill("lou@example.test")
    page.get_by_label("Password").fill(PASSWORD + "-wrong")
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator("main")).to_contain_text("not correct")
    assert_accessible(page, "the login page with an error")
