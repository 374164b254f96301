"""Handoff links: made within X's 280 weighted characters with a reference code in the prefill, and the DMs
they start attributed to the link, the public post and the campaign (code, initiated_via, welcome message)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, ConversationEvent
from tests.factories import dm, make_agent, make_inbox, make_x_account
from twitter_channel.handoff.deeplinks import dm_link_parse
from twitter_channel.handoff.links import (
    HandoffError,
    handoff_link_create,
    handoff_public_reply,
    handoff_reply_post_set,
    post_reference_parse,
)
from twitter_channel.handoff.post_length import post_length
from twitter_channel.inbound.ingesting import account_events_ingest
from twitter_channel.models import HandoffStart, XAccount

pytestmark = pytest.mark.django_db

CUSTOMER = "4242"


@pytest.fixture
def account() -> XAccount:
    return make_x_account(make_inbox(x_user_id="783214"))


def receive(account: XAccount, text: str, **fields):
    event = dataclasses.replace(dm(account.inbox, CUSTOMER, text=text), **fields)
    (result,) = account_events_ingest(account=account, events=[event])
    return result.message


def test_a_link_prefills_the_reference_code_and_fits_the_public_reply(account):
    manager = make_agent(role="social")

    link = handoff_link_create(
        account=account,
        created_by=manager,
        reply_text="So sorry, María! Send us a DM and we'll fix it 🙏",
        prefill_text="Hi, about my order:",
        campaign="Spring delays",
        post="https://x.com/maria_codes/status/1790000000000000001?s=20",
    )

    parsed = dm_link_parse(handoff_public_reply(link).rsplit(" ", 1)[1])
    assert parsed.recipient_id == "783214" and parsed.host == "twitter.com"
    assert parsed.text == f"Hi, about my order:\nRef {link.ref_code}"
    assert (link.post_id, link.post_author, link.campaign) == ("1790000000000000001", "maria_codes", "Spring delays")
    words = len("So sorry, María! Send us a DM and we'll fix it ")
    assert post_length(handoff_public_reply(link)).weighted == words + 2 + 1 + 23  # the emoji 2, a space, the link


def test_line_breaks_from_a_browser_form_become_x_line_breaks(account):
    link = handoff_link_create(
        account=account, created_by=None, reply_text="Sorry!\r\nDM us", prefill_text="Order:\r\n1001\r"
    )

    assert link.reply_text == "Sorry!\nDM us"
    assert dm_link_parse(handoff_public_reply(link).rsplit(" ", 1)[1]).text == f"Order:\n1001\nRef {link.ref_code}"


def test_a_reply_over_280_with_its_link_is_refused_with_the_count(account):
    with pytest.raises(HandoffError, match=r"is 281 characters as X counts them, 1 over 280 \(the link counts 23"):
        handoff_link_create(account=account, created_by=None, reply_text="a" * 257)
    with pytest.raises(HandoffError, match="is 282 characters"):
        handoff_link_create(account=account, created_by=None, reply_text="界" * 129)
    assert handoff_link_create(account=account, created_by=None, reply_text="a" * 256).ref_code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1790000000000000001", ("1790000000000000001", "")),
        ("https://twitter.com/acme/status/17", ("17", "acme")),
        ("https://mobile.twitter.com/acme/statuses/17/photo/1", ("17", "acme")),
        ("https://x.com/i/web/status/17", ("17", "")),
        ("  ", ("", "")),
    ],
)
def test_posts_are_given_as_urls_or_ids(value, expected):
    assert post_reference_parse(value) == expected


@pytest.mark.parametrize("value", ["https://example.com/acme/status/17", "17a", "https://x.com/acme"])
def test_anything_else_is_not_a_post(value):
    with pytest.raises(HandoffError, match="Not a post"):
        post_reference_parse(value)


def test_a_dm_with_the_code_is_attributed_once_and_the_thread_says_where_it_started(account):
    link = handoff_link_create(account=account, created_by=None, campaign="Spring", post="https://x.com/ana/status/55")

    first = receive(account, f"hi there, ref: {link.ref_code.lower()} my parcel is lost")
    receive(account, f"again Ref {link.ref_code}")

    start = HandoffStart.objects.get()
    assert (start.link, start.message, start.matched_by) == (link, first, HandoffStart.MatchedBy.REF_CODE)
    conversation = Conversation.objects.get(pk=first.conversation_id)
    assert conversation.origin_post_id == "55"
    assert conversation.origin_summary == f"Link {link.ref_code} · campaign Spring · reply to @ana"
    event = ConversationEvent.objects.get(kind="started_from")
    assert event.parameters == {
        "post_id": "55",
        "summary": conversation.origin_summary,
        "message_id": first.pk,
    }


def test_initiated_via_finds_the_posted_reply_then_the_answered_post(account):
    by_reply = handoff_link_create(account=account, created_by=None, post="100")
    handoff_reply_post_set(link=by_reply, post="https://x.com/acme/status/200")
    by_post = handoff_link_create(account=account, created_by=None, post="300")

    receive(account, "no code here", initiated_via_post_id="200")
    other_customer = dataclasses.replace(dm(account.inbox, "777", text="hello"), initiated_via_post_id="300")
    account_events_ingest(account=account, events=[other_customer])

    assert {(s.link_id, s.matched_by) for s in HandoffStart.objects.all()} == {
        (by_reply.pk, "post"),
        (by_post.pk, "post"),
    }


def test_the_welcome_message_finds_the_newest_link_that_uses_it(account):
    handoff_link_create(account=account, created_by=None, welcome_message_id="9001")
    newest = handoff_link_create(account=account, created_by=None, welcome_message_id="9001")

    receive(account, "hello", welcome_message_id="9001")

    assert HandoffStart.objects.get().link == newest


def test_codes_of_another_account_and_ordinary_messages_attribute_nothing(account):
    other = make_x_account()
    foreign = handoff_link_create(account=other, created_by=None)

    receive(account, f"Ref {foreign.ref_code}")
    receive(account, "my preference is the red one", created_at=timezone.now() + timedelta(seconds=1))
    echo = dataclasses.replace(dm(account.inbox, CUSTOMER, text=f"Ref {foreign.ref_code}", from_business=True))
    account_events_ingest(account=account, events=[echo])

    assert not HandoffStart.objects.exists()
    assert not ConversationEvent.objects.filter(kind="started_from").exists()
