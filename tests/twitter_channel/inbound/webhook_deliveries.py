"""Signed webhook deliveries as X POSTs them, and the accounts they are for: shared by test_webhook_processing_*."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from inbox.models import Conversation, Message
from tests.factories import make_inbox
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID
from twitter_channel.models import WebhookDelivery, XAccount

URL = "/twitter/webhook/"
SECRET = "consumer-secret-for-tests"
T0_MS = 1_793_534_400_000  # 2026-11-01 12:00 UTC
FIRST_ID = 1_860_000_000_000_000_000


@pytest.fixture(autouse=True)
def consumer_secret(settings):
    settings.X_CONSUMER_SECRET = SECRET


def account_for(x_user_id: str = BUSINESS_ID, status: str = XAccount.Status.CONNECTED) -> XAccount:
    now = timezone.now()
    return XAccount.objects.create(
        inbox=make_inbox(x_user_id=x_user_id), status=status, status_changed_at=now, connected_at=now
    )


def message(event_id: int | str, *, text: str, at_ms: int = T0_MS, sender: str = CUSTOMER_ID, to: str = BUSINESS_ID):
    return {
        "type": "message_create",
        "id": str(event_id),
        "created_timestamp": str(at_ms),
        "message_create": {
            "target": {"recipient_id": to},
            "sender_id": sender,
            "message_data": {
                "text": text,
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
            },
        },
    }


def aaa(*, for_user_id: str = BUSINESS_ID, **families: Any) -> dict[str, Any]:
    return {"for_user_id": for_user_id, **families}


def deliver(client: Client, payload: dict[str, Any] | bytes) -> WebhookDelivery:
    """POST a signed delivery as X does, run what the commit enqueues (Celery is eager), return the row."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            URL, data=body, content_type="application/json", headers={"x-twitter-webhooks-signature": signature}
        )
    assert response.status_code == 200, response.content
    return WebhookDelivery.objects.get(pk=response.json()["delivery_id"])


def thread(account: XAccount) -> list[str]:
    conversation = Conversation.objects.get(inbox=account.inbox)
    return list(Message.objects.filter(conversation=conversation).values_list("text", flat=True))


def signed_post(client: Any, body: bytes) -> Any:
    """POST ``body`` signed as X signs it through ``client`` (Django's ``Client`` or ``tests.asgi_http.AsgiClient``);
    nothing that the commit enqueues runs (the test drains when it wants)."""
    signature = "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return client.post(
        URL, data=body, content_type="application/json", headers={"x-twitter-webhooks-signature": signature}
    )
