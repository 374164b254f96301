"""Which account a webhook delivery is for: unknown and disconnected accounts are ignored, the account's
last-heard time only moves forward, and families we do not handle are named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from inbox.models import Message
from tests.twitter_channel.inbound.webhook_deliveries import (
    FIRST_ID,
    aaa,
    account_for,
    consumer_secret,
    deliver,
    message,
)
from tests.xsandbox import fixture_json
from twitter_channel.models import WebhookDelivery, XAccount

pytestmark = pytest.mark.django_db
__all__ = ["consumer_secret"]  # the autouse fixture, from webhook_deliveries


# -- routing --------------------------------------------------------------------------------------


def test_a_delivery_for_an_unknown_account_is_ignored(client: Client):
    account_for()

    delivery = deliver(client, aaa(for_user_id="999", direct_message_events=[message(FIRST_ID, text="?", to="999")]))

    assert delivery.status == WebhookDelivery.Status.IGNORED
    assert delivery.for_user_id == "999"
    assert delivery.account is None
    assert "No X account with user id 999" in delivery.detail
    assert Message.objects.count() == 0


def test_a_delivery_for_an_account_that_needs_reconnecting_is_ignored_but_counts_as_heard(client: Client):
    account = account_for(status=XAccount.Status.NEEDS_RECONNECTION)

    delivery = deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="hello?")]))

    assert delivery.status == WebhookDelivery.Status.IGNORED
    assert delivery.account == account
    assert "needs reconnection" in delivery.detail
    assert Message.objects.count() == 0
    account.refresh_from_db()
    assert account.last_webhook_at == delivery.received_at


def test_processing_sets_the_accounts_last_webhook_time_forward_only(client: Client):
    account = account_for()
    later = datetime(2099, 1, 1, tzinfo=UTC)

    first = deliver(client, aaa(direct_message_events=[message(FIRST_ID, text="a")]))
    account.refresh_from_db()
    assert account.last_webhook_at == first.received_at

    XAccount.objects.filter(pk=account.pk).update(last_webhook_at=later)
    deliver(client, aaa(direct_message_events=[message(FIRST_ID + 4096, text="b")]))
    account.refresh_from_db()
    assert account.last_webhook_at == later


def test_families_we_do_not_handle_and_bodies_without_an_account_are_ignored_and_named(client: Client):
    account_for(x_user_id="930524282358325248")

    deleted = deliver(client, fixture_json("aaa_tweet_delete_events.docs.json"))
    replay = deliver(client, fixture_json("v2_aaa_replay_job_complete_event.docs.json"))

    assert deleted.status == WebhookDelivery.Status.PROCESSED
    assert "tweet_delete_events" in deleted.detail
    assert replay.status == WebhookDelivery.Status.IGNORED
    assert "names no subscribed account" in replay.detail
    assert "replay_job_status" in replay.detail


def test_a_revoke_marks_the_revoking_account_as_needing_reconnection_and_says_so(client: Client):
    # given the account of the user in X's recorded revoke, connected before the revoke
    account = account_for(x_user_id="63046977")
    XAccount.objects.filter(pk=account.pk).update(connected_at=datetime(2018, 1, 1, tzinfo=UTC))

    # when X tells us that user revoked our access
    revoke = deliver(client, fixture_json("aaa_user_event_revoke.docs.json"))

    # then the admin sees the account needs reconnecting, and the delivery says why
    account.refresh_from_db()
    assert account.status == XAccount.Status.NEEDS_RECONNECTION
    assert "revoked Backchannel's access on X on 24 May 2018" in account.status_detail
    assert revoke.status == WebhookDelivery.Status.PROCESSED
    assert "now needs reconnection" in revoke.detail

    # and the same revoke delivered again changes nothing more
    again = deliver(client, fixture_json("aaa_user_event_revoke.docs.json"))
    assert again.status == WebhookDelivery.Status.PROCESSED
    assert "no account changed" in again.detail
