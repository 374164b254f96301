"""XClient's webhook and Account Activity subscription calls against X's documented answers, replayed with
``responses``."""

from __future__ import annotations

from datetime import UTC, datetime

from responses import matchers

from tests.twitter_channel.x.client_replay import APP_BEARER, USER_TOKEN, add, load, make_client, rsps

__all__ = ["rsps"]  # the fixture, from client_replay


# --- documented examples: webhooks and subscriptions ---------------------------------------------------------


def test_webhook_create_and_list(rsps):
    url = "https://yourdomain.com/webhooks/twitter"
    add(
        rsps,
        "POST",
        "/2/webhooks",
        load("v2_webhooks_create_response.docs.json"),
        match=[matchers.json_params_matcher({"url": url})],
    )
    add(rsps, "GET", "/2/webhooks", load("v2_webhooks_list_response.docs.json"))
    client = make_client()

    created = client.webhook_create(url).webhook
    listed = client.webhooks().webhooks

    assert (created.id, created.url, created.valid) == ("1234567890", url, True)
    assert created.created_at == datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
    assert listed == (created,)
    assert {c.request.headers["Authorization"] for c in rsps.calls} == {f"Bearer {APP_BEARER}"}


def test_webhook_create_accepts_the_openapi_unwrapped_answer(rsps):
    add(rsps, "POST", "/2/webhooks", load("v2_webhooks_create_response.docs.json")["data"])

    assert make_client().webhook_create("https://yourdomain.com/webhooks/twitter").webhook.id == "1234567890"


def test_webhook_list_empty_validate_and_delete(rsps):
    add(rsps, "GET", "/2/webhooks", load("v2_webhooks_list_empty_response.docs.json"))
    add(rsps, "PUT", "/2/webhooks/1234567890", load("v2_webhooks_put_crc_response.docs.json"))
    add(rsps, "DELETE", "/2/webhooks/1234567890", load("v2_webhooks_delete_response.docs.json"))
    client = make_client()

    assert client.webhooks().webhooks == ()
    assert client.webhook_validate("1234567890").data == {"valid": True}
    assert client.webhook_delete("1234567890").deleted is True


def test_subscriptions_with_the_documented_answers(rsps):
    path = "/2/account_activity/webhooks/1234567890/subscriptions"
    add(rsps, "POST", f"{path}/all", load("v2_aaa_subscription_create_response.docs.json"))
    add(rsps, "GET", f"{path}/all", load("v2_aaa_subscription_create_response.docs.json"))
    add(rsps, "GET", f"{path}/all/list", load("v2_aaa_subscriptions_list_response.docs.json"))
    add(rsps, "DELETE", f"{path}/2244994945/all", load("v2_aaa_subscription_delete_response.docs.json"))
    add(rsps, "GET", "/2/account_activity/subscriptions/count", load("v2_aaa_subscriptions_count_response.docs.json"))
    client = make_client()

    assert client.subscription_create("1234567890").subscribed is True
    assert client.subscription_check("1234567890").subscribed is True
    listed = client.subscriptions("1234567890")
    assert (listed.application_id, listed.webhook_id, listed.webhook_url) == (
        "<your app id>",
        "<webhook id>",
        "<the webhook's callback url>",
    )
    assert listed.user_ids == ("<user_id_1>", "<user_id_2>")
    assert client.subscription_delete("1234567890", "2244994945").subscribed is False
    count = client.subscription_count()
    # The documented counts are placeholders ("<subscription limit allocated>"): unknown, not a crash.
    assert (count.account_name, count.provisioned_count, count.subscriptions_count_all) == (
        "<your application name>",
        None,
        None,
    )
    assert count.subscriptions_count_direct_messages == 0
    auth = [c.request.headers["Authorization"] for c in rsps.calls]
    assert auth == [f"Bearer {USER_TOKEN}"] * 2 + [f"Bearer {APP_BEARER}"] * 3
