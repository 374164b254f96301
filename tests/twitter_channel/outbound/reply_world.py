"""A connected X account at the sandbox, a customer's conversation, and what the customer has on X:
the world the reconciliation and undo tests send replies in (as tests/twitter_channel/outbound/test_sending.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from inbox.models import Conversation, Message
from tests.twitter_channel.x.client_sandbox import x_client
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel.inbound.sync import account_poll
from twitter_channel.models import XAccount
from twitter_channel.x.results import XDmEvent

SEND_PATH = f"/2/dm_conversations/with/{CUSTOMER_ID}/messages"
UPLOAD_PATH = "/2/media/upload/initialize"
QUESTION = "Where is my parcel?"


def customer_writes(sandbox: Sandbox, text: str = QUESTION, customer: str = "maria_codes") -> None:
    sandbox.control("POST", f"users/{customer}/messages", {"to": "AcmeSupport", "text": text})


def business_sends_at_x(sandbox: Sandbox, text: str, customer: str = "maria_codes") -> str:
    """The business account sends ``text`` on X itself (what an accepted POST leaves); X's event id."""
    return sandbox.control("POST", "users/AcmeSupport/messages", {"to": customer, "text": text})["dm_event_id"]


def conversation_polled(account: XAccount, text: str = QUESTION) -> Conversation:
    """The customer's message, polled into the inbox (inline); its conversation."""
    result = account_poll(account_id=account.pk)
    assert result.complete, result
    return Message.objects.get(text=text).conversation


def business_messages(sandbox: Sandbox, customer: str = "maria_codes") -> list[XDmEvent]:
    """Every message of the business in the customer's one-to-one conversation, as the customer sees them on X."""
    client = x_client(sandbox, user=customer)
    try:
        pages = client.participant_events_pages(BUSINESS_ID, event_types=["MessageCreate"])
        return [event for page in pages for event in page.events if event.sender_id == BUSINESS_ID]
    finally:
        client.close()


def texts_at_x(sandbox: Sandbox) -> Counter[str]:
    """How many times each text of the business reached the customer."""
    return Counter(event.text for event in business_messages(sandbox))


def sent_by_business(sandbox: Sandbox) -> int:
    return sandbox.control("GET", "counters")["messages_by_sender"].get(BUSINESS_ID, 0)


def fault(sandbox: Sandbox, kind: str, *, path: str = SEND_PATH, method: str = "POST", **extra: Any) -> None:
    """X misbehaving on the next matching request (``count``, default 1) or on ``percent`` of them."""
    if "percent" not in extra:
        extra.setdefault("count", 1)
    sandbox.control("POST", "faults", {"kind": kind, "method": method, "path": path, **extra})


def faults_left(sandbox: Sandbox) -> list[dict[str, Any]]:
    return sandbox.control("GET", "faults")
