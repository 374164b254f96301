"""The page's websocket across a server restart, in Chromium against a real uvicorn: with the session
alive it reconnects and catches up on what it missed; without one (4401) it goes to the login page.

The socket used to be closed before it was accepted when the session was gone: the browser saw 1006,
never 4401, and the page spun on "Reconnecting..." forever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from inbox.models import Conversation
from inbox.services.ingest import dm_event_ingest
from tests.factories import BASE_TIME, dm, make_agent, make_inbox
from tests.live_uvicorn import UvicornProcess

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CUSTOMER = "2244994945"
RECONNECTED = 30_000  # ms: the page retries with backoff (at most 10 s apart), the server takes a moment to start


@pytest.fixture
def server(tmp_path: Path) -> Iterator[UvicornProcess]:
    process = UvicornProcess(tmp_path / "uvicorn.log")
    process.start()
    yield process
    process.stop()


def logged_in_page(browser: Browser, server: UvicornProcess) -> tuple[Page, Conversation]:
    """Alice's tab on the thread of a conversation of her inbox, connected."""
    alice = make_agent(name="Alice Agent")
    inbox = make_inbox(members=(alice,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, text="first")).message.conversation
    client = Client()
    client.force_login(alice)
    context = browser.new_context()
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.base_url}])
    page = context.new_page()
    page.goto(f"{server.base_url}/c/{conversation.pk}/")
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()
    page.evaluate("window.stillTheSamePage = true")
    return page, conversation


def test_after_a_restart_the_page_reconnects_and_catches_up(browser: Browser, server: UvicornProcess):
    page, conversation = logged_in_page(browser, server)

    server.stop()
    expect(page.get_by_text("Connection lost. Reconnecting…")).to_be_visible()
    later = BASE_TIME + timedelta(minutes=1)
    dm_event_ingest(inbox=conversation.inbox, event=dm(conversation.inbox, CUSTOMER, text="sent while down", at=later))
    server.start()

    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached(timeout=RECONNECTED)
    expect(page.get_by_role("list", name="Messages").get_by_text("sent while down")).to_be_visible()
    expect(page.get_by_text("Connection lost. Reconnecting…")).to_be_hidden()
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_restart_that_lost_the_session_takes_the_page_to_the_login_page(browser: Browser, server: UvicornProcess):
    page, _ = logged_in_page(browser, server)

    server.stop()
    expect(page.get_by_text("Connection lost. Reconnecting…")).to_be_visible()
    Session.objects.all().delete()
    server.start()

    expect(page).to_have_url(re.compile(re.escape(f"{server.base_url}/accounts/login/")), timeout=RECONNECTED)
    expect(page.get_by_role("button", name="Sign In")).to_be_visible()
