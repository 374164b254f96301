"""Channel health for admins: register the webhook with X (the sandbox runs the CRC against a live server),
have X run the CRC again, resubscribe an account, and the silence alarm."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import make_agent
from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
from tests.xsandbox import BUSINESS_ID, Sandbox
from twitter_channel.models import WebhookEndpoint, XAccount
from twitter_channel.x.client import XClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhook_url(x_sandbox: Sandbox, settings, live_server) -> str:
    """Our live server as X's webhook target, with the consumer secret the sandbox signs with."""
    settings.X_CONSUMER_SECRET = x_sandbox.control("GET", "app")["consumer_secret"]
    settings.X_WEBHOOK_URL = f"{live_server.url}/twitter/webhook/"
    return settings.X_WEBHOOK_URL


def x_webhooks(settings) -> list:
    return list(XClient(app_bearer=settings.X_BEARER_TOKEN).webhooks().webhooks)


def test_registering_creates_the_webhook_x_checks_it_against_us_and_the_page_says_so(
    admin_client: Client, webhook_url: str, settings
):
    response = admin_client.post("/settings/x-accounts/webhook/register/", follow=True)

    assert response.status_code == 200
    assert "is registered with X (X&#x27;s CRC passed)" in response.content.decode()
    [webhook] = x_webhooks(settings)
    endpoint = WebhookEndpoint.objects.get(url=webhook_url)
    assert (endpoint.webhook_id, endpoint.valid, endpoint.error) == (webhook.id, True, "")
    assert endpoint.last_crc_at is not None  # the sandbox's CRC reached our endpoint, which noted it
    page = admin_client.get("/settings/x-accounts/").content.decode()
    assert f"Registered with X as {webhook.id}" in page
    assert '<span class="status status-connected">valid</span>' in page


def test_registering_again_adopts_the_existing_webhook_and_never_deletes_another_one(
    admin_client: Client, webhook_url: str, settings, live_server
):
    other = XClient(app_bearer=settings.X_BEARER_TOKEN).webhook_create(f"{live_server.url}/twitter/webhook/?other=1")
    admin_client.post("/settings/x-accounts/webhook/register/")
    first = WebhookEndpoint.objects.get(url=webhook_url).webhook_id

    admin_client.post("/settings/x-accounts/webhook/register/")

    assert WebhookEndpoint.objects.get(url=webhook_url).webhook_id == first
    assert sorted(w.id for w in x_webhooks(settings)) == sorted([first, other.webhook.id])


def test_a_wrong_consumer_secret_makes_the_crc_fail_and_rerunning_it_after_the_fix_enables_the_webhook(
    admin_client: Client, webhook_url: str, settings, x_sandbox: Sandbox
):
    # given the webhook registered while our secret was wrong: X's CRC fails
    settings.X_CONSUMER_SECRET = "not-the-apps-secret"
    response = admin_client.post("/settings/x-accounts/webhook/register/", follow=True)
    assert "X did not register" in response.content.decode()
    assert "CrcValidationFailed" in WebhookEndpoint.objects.get(url=webhook_url).error

    # when the secret is fixed, the webhook registered again and the CRC run again
    settings.X_CONSUMER_SECRET = x_sandbox.control("GET", "app")["consumer_secret"]
    admin_client.post("/settings/x-accounts/webhook/register/")
    response = admin_client.post("/settings/x-accounts/webhook/validate/", follow=True)

    # then X says it passed
    assert "it passed: the webhook is enabled" in response.content.decode()
    endpoint = WebhookEndpoint.objects.get(url=webhook_url)
    assert (endpoint.valid, endpoint.error) == (True, "")


def test_rerunning_the_crc_before_registering_says_what_to_do(admin_client: Client, webhook_url: str):
    response = admin_client.post("/settings/x-accounts/webhook/validate/", follow=True)

    assert "is not registered with X yet: register it first" in response.content.decode()


def test_resubscribing_an_account_asks_x_with_its_token_and_records_the_confirmation(
    admin_client: Client, webhook_url: str, x_sandbox: Sandbox, settings
):
    account = connect_through_sandbox(x_sandbox)
    admin_client.post("/settings/x-accounts/webhook/register/")
    webhook_id = WebhookEndpoint.objects.get(url=webhook_url).webhook_id

    response = admin_client.post(f"/settings/x-accounts/{account.pk}/subscribe/", follow=True)

    assert "is subscribed to the webhook" in response.content.decode()
    account.refresh_from_db()
    assert account.subscribed_at is not None and account.subscription_error == ""
    assert BUSINESS_ID in XClient(app_bearer=settings.X_BEARER_TOKEN).subscriptions(webhook_id).user_ids


def test_resubscribing_without_a_registered_webhook_is_refused_with_the_reason_kept(
    admin_client: Client, webhook_url: str, x_sandbox: Sandbox
):
    account = connect_through_sandbox(x_sandbox)

    response = admin_client.post(f"/settings/x-accounts/{account.pk}/subscribe/", follow=True)

    assert "register the webhook first" in response.content.decode()
    account.refresh_from_db()
    assert "register the webhook first" in account.subscription_error
    assert "Subscription:" in response.content.decode() and "failed" in response.content.decode()


def test_the_silence_alarm_shows_for_an_account_quiet_longer_than_configured(
    admin_client: Client, webhook_url: str, x_sandbox: Sandbox, settings
):
    settings.X_WEBHOOK_SILENCE_ALARM = 3600
    account = connect_through_sandbox(x_sandbox)
    XAccount.objects.filter(pk=account.pk).update(
        connected_at=timezone.now() - timedelta(days=2), last_webhook_at=timezone.now() - timedelta(hours=3)
    )

    assert "data-silence-alarm" in admin_client.get("/settings/x-accounts/").content.decode()

    XAccount.objects.filter(pk=account.pk).update(last_webhook_at=timezone.now() - timedelta(minutes=5))
    assert "data-silence-alarm" not in admin_client.get("/settings/x-accounts/").content.decode()

    settings.X_WEBHOOK_SILENCE_ALARM = 0  # off
    XAccount.objects.filter(pk=account.pk).update(last_webhook_at=timezone.now() - timedelta(days=9))
    assert "data-silence-alarm" not in admin_client.get("/settings/x-accounts/").content.decode()


def test_only_admins_manage_the_webhook(client: Client, webhook_url: str):
    client.force_login(make_agent())

    assert client.post("/settings/x-accounts/webhook/register/").status_code == 403
    assert client.post("/settings/x-accounts/webhook/validate/").status_code == 403
    assert not WebhookEndpoint.objects.exists()
