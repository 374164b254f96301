"""Bulk actions in Chromium: a lead ticks conversations (by mouse and with x), assigns them at once, and
an agent watching the list sees every row change live."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import User
from inbox.models import Conversation
from tests.e2e.conftest import LiveX
from tests.e2e.test_agent_inbox import LIVE, agent_of, open_inbox, rows

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_lead_assigns_three_conversations_at_once_and_an_agent_sees_them_live(
    browser: Browser, x_live: LiveX, screenshot
):
    lead = agent_of(x_live, "Lena Lead", role=User.Role.LEAD)
    bob = agent_of(x_live, "Bob Agent")
    for n, name in enumerate(["Ana", "Ben", "Cleo", "Dev"]):
        customer = x_live.customer(username=f"customer_{n}", name=name)
        x_live.customer_writes(f"Question from {name}", customer=customer)
    lead_page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), lead)
    bob_page = x_live.login(browser.new_context(), bob)
    open_inbox(lead_page, x_live)
    open_inbox(bob_page, x_live, "/?view=mine")
    expect(rows(lead_page)).to_have_count(4)
    expect(lead_page.get_by_label("Bulk action", exact=True)).to_be_hidden()

    lead_page.get_by_role("checkbox", name="Select the conversation with Ana").check()
    lead_page.get_by_role("checkbox", name="Select the conversation with Ben").check()
    rows(lead_page).filter(has_text="Cleo").get_by_role("link").click()
    lead_page.keyboard.press("x")
    expect(lead_page.locator("#bulk-count")).to_have_text("3 selected")
    lead_page.get_by_label("Bulk action", exact=True).select_option(label="Assign to Bob Agent")
    lead_page.get_by_role("button", name="Apply").click()

    expect(lead_page.locator("#toast")).to_have_text("3 conversations assigned to Bob Agent.")
    expect(rows(bob_page)).to_have_count(3, timeout=LIVE)
    for name in ("Ana", "Ben", "Cleo"):
        expect(rows(lead_page).filter(has_text=name).locator(".assignee")).to_have_text("Bob Agent")
    expect(rows(lead_page).filter(has_text="Dev").locator(".assignee")).to_have_text("Unassigned")
    expect(lead_page.locator("#bulk-count")).to_have_text("Select conversations")
    expect(bob_page.locator('[data-count="mine"]')).to_have_text("3", timeout=LIVE)
    assert Conversation.objects.filter(assignee=bob).count() == 3
    screenshot(lead_page, "inbox-bulk-assigned-1280x800")


def test_select_all_then_resolve_empties_the_open_view(browser: Browser, x_live: LiveX):
    lead = agent_of(x_live, "Lena Lead", role=User.Role.LEAD)
    for n in range(3):
        x_live.customer_writes(f"Done already {n}", customer=x_live.customer(username=f"done_{n}", name=f"Done {n}"))
    page = x_live.login(browser.new_context(), lead)
    open_inbox(page, x_live, "/?view=open")
    expect(rows(page)).to_have_count(3)

    page.get_by_label("Select every conversation shown").check()
    expect(page.locator("#bulk-count")).to_have_text("3 selected")
    page.get_by_label("Bulk action", exact=True).select_option(label="Resolve")
    page.get_by_role("button", name="Apply").click()

    expect(rows(page)).to_have_count(0, timeout=LIVE)
    assert set(Conversation.objects.values_list("status", flat=True)) == {Conversation.Status.RESOLVED}
