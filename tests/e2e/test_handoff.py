"""The public-to-private handoff in Chromium: a social manager writes a public reply counted as X counts
it, copies reply and link, and the customer who follows the link (in the sandbox's compose page) lands in
a conversation that says which public post started it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import User
from inbox.models import Conversation
from tests.e2e.conftest import LiveX
from tests.e2e.test_agent_inbox import LIVE, agent_of, open_inbox, timeline
from tests.xsandbox import CUSTOMER_ID
from twitter_channel.handoff.links import handoff_public_reply
from twitter_channel.handoff.post_length import post_length
from twitter_channel.models import HandoffLink, HandoffStart

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REPLY = "So sorry about the delay, María 🙏 我们会帮你! Send us a DM:"


def test_the_page_counts_like_x_and_copies_reply_and_link(browser: Browser, x_live: LiveX, screenshot):
    sofia = agent_of(x_live, "Sofia Social", role=User.Role.SOCIAL)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=x_live.url)
    page = x_live.login(context, sofia)
    page.goto(f"{x_live.url}/handoff/")

    page.get_by_label("Campaign").fill("Spring delays")
    page.get_by_label("Customer's public post (address or id)").fill(
        "https://x.com/maria_codes/status/1790000000000000001"
    )
    page.get_by_label("Public reply").fill(REPLY)
    expected = post_length(f"{REPLY} https://twitter.com/messages/compose?recipient_id=1").weighted
    expect(page.locator("#reply-counter")).to_have_text(f"{expected} / 280 with the link · {280 - expected} left")
    page.get_by_label("Public reply").fill(REPLY + " 界" * 120)
    over = post_length(f"{REPLY}{' 界' * 120} https://x.com/").weighted - 280
    expect(page.locator("#reply-counter")).to_have_text(f"{over + 280} / 280 with the link · {over} over")
    page.get_by_label("Public reply").fill(REPLY)
    page.get_by_label("Text the customer finds in the DM").fill("Hi! About my order #1001")
    page.get_by_role("button", name="Create link").click()

    expect(page.locator("#handoff-result")).to_be_visible()
    link = HandoffLink.objects.get()
    reply = handoff_public_reply(link)
    expect(page.locator("#result-counter")).to_have_text(
        f"{post_length(reply).weighted} / 280 as X counts it · {280 - post_length(reply).weighted} left"
    )
    assert post_length(reply).weighted == expected
    page.locator("body").click()  # out of any field, so the key is the page's shortcut
    page.keyboard.press("c")
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == reply
    screenshot(page, "handoff-link-1280x800")


def test_a_customer_following_the_link_starts_a_conversation_that_shows_its_post(browser: Browser, x_live: LiveX):
    sofia = agent_of(x_live, "Sofia Social", role=User.Role.SOCIAL)
    alice = agent_of(x_live, "Alice Agent")
    manager = x_live.login(browser.new_context(), sofia)
    manager.goto(f"{x_live.url}/handoff/")
    manager.get_by_label("Campaign").fill("Spring delays")
    manager.get_by_label("Customer's public post (address or id)").fill(
        "https://x.com/maria_codes/status/1790000000000000001"
    )
    manager.get_by_label("Public reply").fill("Sorry María! DM us:")
    manager.get_by_label("Text the customer finds in the DM").fill("Hi! About my order #1001 & more")
    manager.get_by_role("button", name="Create link").click()
    url = manager.locator("#handoff-result a.dm-link").get_attribute("href")
    link = HandoffLink.objects.get()

    # The sandbox plays twitter.com: the same path and query, on its own address.
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "twitter.com", "/messages/compose")
    customer = browser.new_context().new_page()
    customer.goto(f"{x_live.sandbox.base_url}{parts.path}?{parts.query}")
    expect(customer.get_by_label("Message")).to_have_value(f"Hi! About my order #1001 & more\nRef {link.ref_code}")
    customer.get_by_label("You are").select_option("maria_codes")
    customer.get_by_role("button", name="Send").click()

    agent = x_live.login(browser.new_context(), alice)
    open_inbox(agent, x_live)
    conversation = _conversation_of(CUSTOMER_ID)
    agent.goto(f"{x_live.url}/c/{conversation.pk}/")
    header = agent.locator("#thread-header .thread-origin")
    expect(header).to_have_text(
        f"Started from public post 1790000000000000001 · Link {link.ref_code} · campaign Spring delays"
        " · reply to @maria_codes",
        timeout=LIVE,
    )
    expect(header.get_by_role("link", name="1790000000000000001")).to_have_attribute(
        "href", "https://x.com/i/web/status/1790000000000000001"
    )
    expect(timeline(agent).get_by_text(f"Ref {link.ref_code}")).to_be_visible()
    assert HandoffStart.objects.get().matched_by == HandoffStart.MatchedBy.REF_CODE

    manager.goto(f"{x_live.url}/handoff/links/")
    expect(manager.locator(f'tr[data-link-id="{link.pk}"] td.number').first).to_have_text("1 (1 waiting for a reply)")


def _conversation_of(customer_id: str) -> Conversation:
    import time

    deadline = time.monotonic() + 15
    while True:
        conversation = Conversation.objects.filter(contact__x_user_id=customer_id).first()
        if conversation is not None or time.monotonic() > deadline:
            assert conversation is not None, "the customer's DM never arrived through the webhook"
            return conversation
        time.sleep(0.05)
