"""End to end over real HTTP: the X sandbox delivers signed webhooks to a live Backchannel, agents see them live.

The sandbox signs with its app's consumer secret, so Backchannel is configured with that secret, registers
its webhook URL through ``XClient`` (the sandbox runs the CRC against it at once) and subscribes the
connected account. Then a customer acts in the sandbox, and an agent's websocket (Redis channel layer)
receives what the webhook brought.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from inbox.models import Conversation, Message
from tests.factories import make_agent
from tests.helpers import inbox_socket, next_event, session_cookie
from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel.models import WebhookDelivery, XAccount
from twitter_channel.x.client import StaticUserAuth, XClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_channel_layer")]


def webhook_subscribed(sandbox: Sandbox, settings, live_server_url: str) -> XAccount:
    """Backchannel as an operator sets it up: secret configured, account connected, webhook registered."""
    settings.X_CONSUMER_SECRET = sandbox.control("GET", "app")["consumer_secret"]
    account = connect_through_sandbox(sandbox)
    app = XClient(app_bearer=settings.X_BEARER_TOKEN)
    webhook = app.webhook_create(f"{live_server_url}/twitter/webhook/").webhook
    assert webhook.valid  # the sandbox's CRC against our endpoint passed
    assert XClient(user_auth=StaticUserAuth(account.access_token)).subscription_create(webhook.id).subscribed
    return account


def session_cookie_of_an_admin() -> bytes:
    return session_cookie(make_agent(role="admin"))


async def test_a_customer_dm_reaches_an_agents_websocket_through_the_signed_webhook(x_sandbox, settings, live_server):
    # given Backchannel subscribed at X, and an admin's websocket open
    account = await sync_to_async(webhook_subscribed)(x_sandbox, settings, live_server.url)
    cookie = await sync_to_async(session_cookie_of_an_admin)()
    communicator = await inbox_socket(cookie)

    try:
        # when the customer writes to @AcmeSupport in the sandbox
        sent = await asyncio.to_thread(
            x_sandbox.control, "POST", f"users/{CUSTOMER_ID}/messages", {"to": BUSINESS_ID, "text": "Is my order late?"}
        )

        # then the agent is told live, and the message is stored once from a signed, processed delivery
        created = await next_event(communicator, "message.created")
        assert created["x_event_id"] == sent["dm_event_id"]
        assert created["direction"] == "inbound"
        assert created["inbox_id"] == account.inbox_id
        stored = await sync_to_async(Message.objects.get)(x_event_id=sent["dm_event_id"])
        assert stored.text == "Is my order late?"
        delivery = await sync_to_async(WebhookDelivery.objects.get)()
        assert (delivery.status, delivery.messages_created, delivery.account_id) == ("processed", 1, account.pk)

        # when the customer types, then reads our answer (sent from X's app, echoed by the webhook)
        await asyncio.to_thread(x_sandbox.control, "POST", f"users/{CUSTOMER_ID}/typing", {"to": BUSINESS_ID})
        typing = await next_event(communicator, "customer.typing")
        answer = await asyncio.to_thread(
            x_sandbox.control, "POST", f"users/{BUSINESS_ID}/messages", {"to": CUSTOMER_ID, "text": "On its way!"}
        )
        echoed = await next_event(communicator, "message.created")
        await asyncio.to_thread(
            x_sandbox.control,
            "POST",
            f"users/{CUSTOMER_ID}/read",
            {"to": BUSINESS_ID, "last_read_event_id": answer["dm_event_id"]},
        )
        seen = await next_event(communicator, "customer.seen")

        # then each reached the agent, about the same conversation
        conversation = await sync_to_async(Conversation.objects.get)(inbox=account.inbox_id)
        assert typing["conversation_id"] == echoed["conversation_id"] == seen["conversation_id"] == conversation.pk
        assert typing["x_user_id"] == CUSTOMER_ID
        assert (echoed["x_event_id"], echoed["direction"]) == (answer["dm_event_id"], "outbound")
        assert seen["last_read_event_id"] == answer["dm_event_id"]
        assert conversation.customer_read_event_id == answer["dm_event_id"]
        assert await sync_to_async(Message.objects.count)() == 2
    finally:
        await communicator.disconnect()


def test_a_delivery_signed_with_another_secret_is_refused_over_http(x_sandbox, settings, live_server):
    # given Backchannel subscribed, then configured with a secret that is not the app's
    webhook_subscribed(x_sandbox, settings, live_server.url)
    settings.X_CONSUMER_SECRET = "not-the-apps-consumer-secret"

    # when the customer writes
    x_sandbox.control("POST", f"users/{CUSTOMER_ID}/messages", {"to": BUSINESS_ID, "text": "Hello?"})

    # then X's attempt is answered 403 and nothing is stored
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        attempts = [d for d in x_sandbox.control("GET", "deliveries") if d["attempts"]]
        if attempts:
            break
        time.sleep(0.05)
    assert attempts and attempts[0]["last_error"] == "HTTP 403", attempts
    assert WebhookDelivery.objects.count() == 0
    assert Message.objects.count() == 0
