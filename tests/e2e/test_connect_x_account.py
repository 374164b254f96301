"""An admin connects the business X account in the browser, through the sandbox's consent page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.factories import PASSWORD, make_agent
from tests.xsandbox import Sandbox
from twitter_channel.models import XAccount

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_connects_the_business_account(page: Page, x_env: Sandbox, live_server_url: str, screenshot):
    admin = make_agent(role=User.Role.ADMIN, email="ada@example.test", name="Ada Admin")
    page.goto(live_server_url + "/accounts/login/")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    page.get_by_role("link", name="X accounts").click()
    expect(page.get_by_text("No X account is connected yet.")).to_be_visible()
    page.get_by_role("button", name="Connect X account").click()

    expect(page).to_have_url(re.compile(re.escape(x_env.base_url) + r"/i/oauth2/authorize\?"))
    expect(page.get_by_text("dm.write")).to_be_visible()
    page.get_by_label("Approve as").select_option(label="Acme Support (@AcmeSupport)")
    page.get_by_role("button", name="Authorize app").click()

    expect(page).to_have_url(live_server_url + "/settings/x-accounts/")
    expect(page.locator(".flash")).to_contain_text("Connected @AcmeSupport.")
    row = page.locator("tr[data-x-account=AcmeSupport]")
    expect(row).to_contain_text("Connected")
    expect(row.get_by_role("button", name="Disconnect @AcmeSupport")).to_be_visible()
    assert XAccount.objects.get().status == XAccount.Status.CONNECTED

    page.get_by_role("button", name="Connect X account").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alert")).to_contain_text("You cancelled on X, so no account was connected.")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "x-accounts-390", full_page=True)
