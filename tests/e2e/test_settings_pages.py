"""Settings in the app, in Chromium: an admin adds a canned response (with its live preview) and a label,
and an agent is offered the one with `/` and puts the other on a conversation; the DM-link page lists a
new link at once; the demo admin opens the Django admin; the audit log's filters and pages; and these
pages at phone, tablet and desktop widths."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.models import User
from inbox.models import CannedResponse, Conversation, ConversationEvent, Label
from inbox.services.demo import DEMO_PASSWORD, demo_seed
from inbox.services.ingest import dm_event_ingest
from tests.e2e.conftest import LiveX
from tests.e2e.test_agent_inbox import agent_of, open_inbox, rows
from tests.factories import dm, make_agent, make_inbox, make_x_account
from twitter_channel.models import HandoffLink

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZES = [(390, 844), (768, 1024), (1280, 800)]


def logged_in(context: BrowserContext, url: str, user: User) -> Page:
    """A tab logged in as ``user`` on the live server at ``url`` (as ``LiveX.login``, without the sandbox)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"unexpected dialog: {dialog.message}"))
    return page


def test_an_admin_adds_a_canned_response_and_a_label_and_an_agent_uses_both(
    browser: Browser, x_live: LiveX, screenshot
):
    ada = agent_of(x_live, "Ada Admin", role=User.Role.ADMIN)
    alice = agent_of(x_live, "Alice Agent")
    x_live.customer_writes("Where is my refund?")
    conversation = Conversation.objects.get()

    # the admin finds Settings in the top bar and writes a canned response, watching the preview
    admin = logged_in(browser.new_context(viewport={"width": 1280, "height": 800}), x_live.url, ada)
    admin.goto(f"{x_live.url}/")
    admin.get_by_role("navigation", name="Account").get_by_role("link", name="Settings").click()
    expect(admin.get_by_role("heading", name="Canned responses", level=1)).to_be_visible()
    admin.get_by_label("Shortcut").fill("refund")
    admin.get_by_label("Title").fill("Refund policy")
    text = admin.get_by_label("Text")
    text.fill("Hi {{contact.name}}, refunds take 5 days ({{order.id}}). {{agent.name}}")
    preview = admin.locator("#canned-preview")
    expect(preview.locator("#canned-preview-text")).to_have_text(
        "Hi María Fernández, refunds take 5 days ({{order.id}}). Ada Admin"
    )
    expect(preview.get_by_role("alert")).to_contain_text("Unknown placeholder: {{order.id}}")
    text.fill("Hi {{contact.name}}, refunds take 5 days. {{agent.name}}")
    expect(preview.locator("#canned-preview-text")).to_have_text("Hi María Fernández, refunds take 5 days. Ada Admin")
    expect(preview.get_by_role("alert")).to_have_count(0)
    admin.get_by_label("Inbox").select_option(label=f"@{x_live.inbox.handle}")
    screenshot(admin, "settings-canned-preview-1280", full_page=True)
    admin.get_by_role("button", name="Add canned response").click()
    expect(admin.locator(".flash")).to_contain_text("Added /refund")
    expect(admin.locator('tr[data-canned="refund"]')).to_contain_text(f"@{x_live.inbox.handle}")

    # ... and a label, on the Labels page of the same Settings
    admin.get_by_role("navigation", name="Settings").get_by_role("link", name="Labels").click()
    admin.get_by_label("Name").fill("Refund")
    admin.get_by_label("Colour").fill("#dc2626")
    admin.get_by_role("button", name="Add label").click()
    # The chip is drawn in the label's colour: its border ring, over a light tint of it (kept readable for axe).
    chip = admin.locator('tr[data-label="Refund"] .label-chip')
    expect(chip).to_have_css("box-shadow", "rgb(220, 38, 38) 0px 0px 0px 1px inset")
    screenshot(admin, "settings-labels-added-1280")
    assert CannedResponse.objects.get().inbox == x_live.inbox and Label.objects.get().color == "#dc2626"

    # the agent types / in the composer: the canned response is offered, filled in for the customer
    agent = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), alice)
    open_inbox(agent, x_live, f"/c/{conversation.pk}/")
    box = agent.get_by_label(re.compile("^Reply to"))
    box.press_sequentially("/")
    offered = agent.get_by_role("listbox", name="Canned responses").get_by_role("option")
    expect(offered).to_have_text(
        [f"/refund Refund policy: Hi {conversation.contact.name}, refunds take 5 days. Alice Agent"]
    )
    box.press_sequentially("ref")
    expect(offered).to_have_count(1)
    box.press("Tab")
    expect(box).to_have_value(f"Hi {conversation.contact.name}, refunds take 5 days. Alice Agent")

    # ... and puts the new label on the conversation
    agent.locator("#thread-header summary", has_text="More").click()  # the header's other actions
    agent.get_by_role("checkbox", name="Refund").check()
    agent.get_by_role("button", name="Save labels").click()
    expect(agent.locator("#thread-header .label-chip")).to_have_text("Refund")
    expect(rows(agent).first.locator(".label-chip")).to_have_text("Refund")
    assert list(conversation.labels.values_list("name", flat=True)) == ["Refund"]


def test_a_lead_keeps_the_canned_responses_of_their_inbox_only(browser: Browser, live_server_url: str):
    lead = make_agent(role=User.Role.LEAD, name="Lee Lead")
    mine, other = make_inbox(members=(lead,)), make_inbox()
    CannedResponse.objects.create(shortcut="theirs", title="Theirs", body="Not yours", inbox=other)
    CannedResponse.objects.create(shortcut="everyone", title="Everyone", body="For all")
    page = logged_in(browser.new_context(), live_server_url, lead)
    page.goto(f"{live_server_url}/settings/")

    expect(page.get_by_role("navigation", name="Settings").get_by_role("link")).to_have_text(["Canned responses"])
    expect(page.locator("tr[data-canned]")).to_have_count(1)  # "everyone", read-only; not the other inbox's
    expect(page.locator('tr[data-canned="everyone"]').get_by_role("link")).to_have_count(0)
    expect(page.get_by_label("Inbox").locator("option")).to_have_text([f"@{mine.handle}"])
    page.get_by_label("Shortcut").fill("thanks")
    page.get_by_label("Title").fill("Thanks")
    page.get_by_label("Text").fill("Thanks, {{contact.name}}!")
    page.get_by_role("button", name="Add canned response").click()

    expect(page.locator('tr[data-canned="thanks"]')).to_contain_text(f"@{mine.handle}")
    labels = page.goto(f"{live_server_url}/settings/labels/")
    assert labels is not None and labels.status == 403
    assert CannedResponse.objects.get(shortcut="thanks").inbox == mine


def test_a_new_dm_link_shows_in_recent_links_without_a_reload(browser: Browser, live_server_url: str, screenshot):
    sofia = make_agent(role=User.Role.SOCIAL, name="Sofia Social")
    make_x_account(make_inbox(members=(sofia,)))
    page = logged_in(browser.new_context(viewport={"width": 1280, "height": 800}), live_server_url, sofia)
    page.goto(f"{live_server_url}/handoff/")
    recent = page.locator("#recent-links")
    expect(recent).to_contain_text("No links yet.")
    page.evaluate("window.stillTheSamePage = true")

    page.get_by_label("Campaign").fill("Spring delays")
    page.get_by_label("Public reply").fill("Sorry! DM us:")
    page.get_by_role("button", name="Create link").click()

    expect(page.get_by_role("heading", name=re.compile(r"^Link Ref \w+ is ready$"))).to_be_visible()
    link = HandoffLink.objects.get()
    expect(page.get_by_role("heading", name=f"Link Ref {link.ref_code} is ready")).to_be_visible()
    expect(recent.locator(f'tr[data-link-id="{link.pk}"]')).to_contain_text(f"Ref {link.ref_code}")
    expect(recent).not_to_contain_text("No links yet.")
    expect(recent.locator(f'tr[data-link-id="{link.pk}"]')).to_contain_text("Spring delays")
    assert page.evaluate("window.stillTheSamePage") is True  # no reload

    page.get_by_role("button", name="Create link").click()  # a second one goes on top
    expect(recent.locator("tr[data-link-id]")).to_have_count(2)
    second = HandoffLink.objects.exclude(pk=link.pk).get()
    expect(page.get_by_role("heading", name=f"Link Ref {second.ref_code} is ready")).to_be_visible()
    expect(recent.locator("tr[data-link-id]").first).to_have_attribute("data-link-id", str(second.pk))
    screenshot(page, "handoff-recent-links-1280")


def test_the_demo_admin_logs_in_and_opens_the_django_admin(page: Page, live_server_url: str):
    seed = demo_seed()
    admin = next(a for a in seed.agents if a.role == User.Role.ADMIN)

    page.goto(f"{live_server_url}/accounts/login/")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="All open")).to_be_visible()
    response = page.goto(f"{live_server_url}/admin/")

    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.get_by_role("link", name="Canned responses").first.click()
    expect(page.get_by_role("heading", name="Select canned response to change")).to_be_visible()


def test_the_audit_log_filters_and_pages_in_the_browser(browser: Browser, live_server_url: str, screenshot):
    ada = make_agent(role=User.Role.ADMIN, name="Ada Admin")
    bob = make_agent(name="Bob Agent")
    inbox = make_inbox()
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation
    ConversationEvent.objects.bulk_create(
        [ConversationEvent(conversation=conversation, kind="assigned", actor=bob) for _ in range(60)]
        + [ConversationEvent(conversation=conversation, kind="priority_changed", actor=ada) for _ in range(5)]
    )
    page = logged_in(browser.new_context(viewport={"width": 1280, "height": 800}), live_server_url, ada)
    page.goto(f"{live_server_url}/audit/")

    page.get_by_label("Person").select_option(label=f"Bob Agent ({bob.email})")
    page.get_by_label("Kind").select_option(label="Assigned")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-summary")).to_have_text("1–50 of 60 changes matching the filters.")
    page.get_by_role("link", name="Older →").click()
    expect(page.locator("#audit-summary")).to_have_text("51–60 of 60 changes matching the filters.")
    expect(page.get_by_label("Person")).to_have_value(str(bob.pk))  # the filters stay on the next page
    expect(page.get_by_label("Kind")).to_have_value("assigned")

    page.locator("#id_since").fill("2026-12-05")
    page.locator("#id_until").fill("2026-12-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_have_text("“To” (2026-12-01) is before “From” (2026-12-05).")
    screenshot(page, "audit-log-error-1280")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_settings_and_audit_pages_fit_the_screen(browser: Browser, live_server_url: str, screenshot, width, height):
    ada = make_agent(role=User.Role.ADMIN, name="Ada Admin")
    inbox = make_inbox()
    CannedResponse.objects.create(
        shortcut="a-rather-long-shortcut-name", title="Refund policy for orders", body="Hi {{contact.name}}, " * 20
    )
    CannedResponse.objects.create(shortcut="vip", title="VIP", body="Right away.", inbox=inbox)
    Label.objects.create(name="Refund requested by the customer", color="#dc2626", description="Money back " * 8)
    page = logged_in(browser.new_context(viewport={"width": width, "height": height}), live_server_url, ada)

    for path, name in [("/settings/canned-responses/", "settings-canned"), ("/settings/labels/", "settings-labels"),
                       ("/audit/", "audit-log")]:  # fmt: skip
        page.goto(live_server_url + path)
        # What these pages put in <main>, down to each field; the top bar is the layout's (and its own test's).
        overflow = page.evaluate(
            "() => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right >"
            " document.documentElement.clientWidth + 0.5 && !e.parentElement.closest('.settings-table-wrap'))"
            ".map(e => e.tagName + '.' + e.className)"
        )
        assert overflow == [], (path, width, overflow)
        screenshot(page, f"{name}-{width}", full_page=True)


def test_axe_finds_nothing_serious_on_the_settings_pages_and_the_audit_log(browser: Browser, live_server_url: str):
    from axe_playwright_python.sync_playwright import Axe

    ada = make_agent(role=User.Role.ADMIN, name="Ada Admin")
    canned = CannedResponse.objects.create(shortcut="hi", title="Hi", body="Hi {{contact.name}} {{oops}}")
    label = Label.objects.create(name="Refund", color="#dc2626")
    page = logged_in(browser.new_context(viewport={"width": 1280, "height": 800}), live_server_url, ada)
    paths = ["/settings/canned-responses/", f"/settings/canned-responses/{canned.pk}/", "/settings/labels/",
             f"/settings/labels/{label.pk}/", "/audit/", "/audit/?since=2026-12-05&until=2026-12-01"]  # fmt: skip

    found = {}
    for path in paths:
        page.goto(live_server_url + path)
        violations = Axe().run(page).response["violations"]
        found[path] = [(v["id"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]

    assert found == dict.fromkeys(paths, []), found
