"""The social managers' link page: who may use it, creating a link with the reply counted as X counts it,
errors said precisely, and the results of each link (conversations started, median time to first reply)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from inbox.models import Message
from tests.factories import dm, make_agent, make_inbox, make_x_account
from twitter_channel.handoff.links import handoff_link_create
from twitter_channel.inbound.ingesting import account_events_ingest
from twitter_channel.models import HandoffLink

pytestmark = pytest.mark.django_db

FRAGMENT = {"X-Fragment": "1"}


@pytest.fixture
def social(client):
    user = make_agent(role=User.Role.SOCIAL, name="Sofia Social")
    account = make_x_account(make_inbox(members=(user,), x_user_id="783214"))
    client.force_login(user)
    return user, account


def test_a_social_manager_makes_a_link_and_gets_the_reply_to_copy(client, social):
    _user, account = social
    data = {
        "account": account.pk,
        "campaign": "Delays",
        "post": "https://x.com/ana/status/55",
        "reply_text": "Sorry Ana! DM us 👇",
        "prefill_text": "Hi, order 1001",
        "host": "twitter.com",
    }

    response = client.post(reverse("handoff:create"), data, headers=FRAGMENT)

    link = HandoffLink.objects.get()
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        f"Sorry Ana! DM us 👇 https://twitter.com/messages/compose?recipient_id=783214&amp;text=Hi%2C%20order%201001%0ARef%20{link.ref_code}"
        in html
    )
    assert "43 / 280 as X counts it · 237 left" in html  # 17 + 2 for the emoji, a space, 23 for the link
    assert (link.campaign, link.post_id, link.post_author) == ("Delays", "55", "ana")


def test_a_reply_too_long_is_refused_with_the_count_and_nothing_is_stored(client, social):
    _user, account = social

    fragment = client.post(
        reverse("handoff:create"), {"account": account.pk, "reply_text": "界" * 130, "host": "x.com"}, headers=FRAGMENT
    )
    page = client.post(reverse("handoff:create"), {"account": account.pk, "reply_text": "x" * 300, "host": "x.com"})

    assert fragment.status_code == 400
    assert fragment.content.decode().startswith("The public reply with its link is 284 characters as X counts them")
    assert page.status_code == 400 and "is 324 characters as X counts them, 44 over 280" in page.content.decode()
    assert not HandoffLink.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("post", "https://example.com/x/status/1", "Not a post"),
        ("welcome_message_id", "12ab", "A welcome message id is X&#x27;s number, digits only."),
        ("host", "evil.com", "Select a valid choice"),
    ],
)
def test_bad_fields_are_named(client, social, field, value, message):
    _user, account = social
    response = client.post(reverse("handoff:create"), {"account": account.pk, "host": "twitter.com", field: value})
    assert response.status_code == 400 and message in response.content.decode()
    assert not HandoffLink.objects.exists()


def test_accounts_of_other_inboxes_cannot_be_used_or_seen(client, social):
    other = make_x_account()
    foreign = handoff_link_create(account=other, created_by=None)

    response = client.post(reverse("handoff:create"), {"account": other.pk, "host": "twitter.com"})

    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert client.get(reverse("handoff:link", args=[foreign.pk])).status_code == 404
    assert foreign.ref_code not in client.get(reverse("handoff:links")).content.decode()


@pytest.mark.parametrize("role", [User.Role.AGENT])
def test_agents_answer_dms_and_do_not_make_links(client, role):
    client.force_login(make_agent(role=role))
    for name in ("page", "links", "button"):
        assert client.get(reverse(f"handoff:{name}")).status_code == 403


def test_results_count_conversations_and_the_median_time_to_first_reply(client, social):
    _user, account = social
    link = handoff_link_create(account=account, created_by=None, campaign="Delays")
    started = timezone.now() - timedelta(hours=2)
    waits = {"501": timedelta(minutes=4), "502": timedelta(minutes=10), "503": None}
    for customer, wait in waits.items():
        event = dataclasses.replace(dm(account.inbox, customer, text=f"Ref {link.ref_code}"), created_at=started)
        (result,) = account_events_ingest(account=account, events=[event])
        if wait is not None:
            Message.objects.create(
                conversation=result.message.conversation, direction="outbound", text="On it",
                x_event_id=f"9{customer}", occurred_at=started + wait, delivery_state="sent",
            )  # fmt: skip

    page = client.get(reverse("handoff:links"), {"campaign": "Delays"}).content.decode()
    detail = client.get(reverse("handoff:link", args=[link.pk])).content.decode()

    assert '<td class="number">3 <span class="detail">(1 waiting for a reply)</span></td>' in page
    assert '<td class="number">7 min</td>' in page  # the median of 4 and 10 minutes
    assert "Conversations it started: 3" in detail and "Reference code in the DM" in detail


def test_the_website_button_is_xs_documented_anchor(client, social):
    html = client.get(reverse("handoff:button")).content.decode()
    assert (
        '&lt;a href="https://twitter.com/messages/compose?recipient_id=783214" class="twitter-dm-button" '
        'data-screen-name="' in html
    )
    assert 'data-size="large"' in html


def test_the_posted_reply_is_remembered_and_a_wrong_address_is_named(client, social):
    _user, account = social
    link = handoff_link_create(account=account, created_by=None)
    url = reverse("handoff:reply_post", args=[link.pk])

    wrong = client.post(url, {"post": "https://example.com/acme/status/9"})
    saved = client.post(url, {"post": "https://x.com/acme/status/9001"})

    assert wrong.status_code == 400 and "Not a post" in wrong.content.decode()
    assert saved.status_code == 302
    link.refresh_from_db()
    assert link.reply_post_id == "9001"
