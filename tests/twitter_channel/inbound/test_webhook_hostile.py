"""Hostile signed deliveries, generated: never a 500, every valid DM stored, every bad part set aside with its reason,
and the drain never wedged. Through Django's view (WSGI) and the ASGI fast path (``webhook_asgi``).

Each generated body is a mix: valid DMs (some with lone surrogates, reversed pairs or NUL in their text or their
sender's name, which are stored with U+FFFD), malformed events (wrong types, missing fields), unknown event kinds
and keys (spelled with lone surrogates too), profiles of the wrong shape, events the database could not store
(an attachment address too long), and sometimes a value no X body holds: an integer beyond 64 bits, NaN,
Infinity, 1e999999, nesting deeper than 64 levels. The last kind makes the webhook refuse the body with 400 and
a precise reason; every other body is stored, and the drain (the real one) processes it in its batch.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.asgi import application
from inbox.models import Message
from tests.asgi_http import AsgiClient
from tests.twitter_channel.inbound.webhook_deliveries import (
    FIRST_ID,
    T0_MS,
    account_for,
    consumer_secret,
    message,
    signed_post,
)
from tests.xsandbox import BUSINESS_ID
from twitter_channel.inbound.deliveries import deliveries_drain
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db
__all__ = ["consumer_secret"]  # the autouse fixture, from webhook_deliveries

Status = WebhookDelivery.Status
_event_numbers = itertools.count(1)


class Raw(str):
    """JSON text written as is (what ``json.dumps`` cannot or will not write: huge integers, deep nesting)."""


def render(value: Any) -> str:
    """JSON text for ``value``; strings go through ``json.dumps``, which spells a lone surrogate ``\\udXXX``."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{render(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(render(item) for item in value) + "]"
    return json.dumps(value)  # NaN and Infinity as Python writes them


POISON_TEXT = st.sampled_from(["\ud800", "\udfff", "\ude00\ud83d", "\x00", "ok \ud83d\ude00", "é\ud83d"])
UNUSABLE = st.sampled_from(
    [
        Raw("9" * 4301),
        Raw("-" + "1" * 25),
        Raw("18446744073709551616"),
        float("nan"),
        float("inf"),
        float("-inf"),
        Raw("1e999999"),
        Raw("[" * 65 + "]" * 65),
        Raw("[" * 3000 + "]" * 3000),
    ]
)
# Wrong values for a field that must be a numeric string (an id, X's milliseconds) or an object.
NOT_AN_ID = st.sampled_from([None, True, 1.5, "", "x", "٣", "1" * 20, [], {}, ["1"]])
NOT_TEXT = st.sampled_from([True, 7, 1.5, [], {"a": "b"}])
NOT_AN_OBJECT = st.sampled_from([None, True, 7, -1, 1.5, "", "x", [], ["1"]])


@dataclass
class Body:
    """A generated delivery and what must become of it."""

    parts: dict[str, Any] = field(default_factory=dict)
    valid: list[str] = field(default_factory=list)  # X event ids that must be stored
    set_aside: bool = False  # something in it must be named in the delivery's detail
    unusable: bool = False  # the webhook must refuse it (400)

    @property
    def bytes(self) -> bytes:
        return render(self.parts).encode()


@st.composite
def events(draw: st.DrawFn, body: Body) -> list[Any]:
    items: list[Any] = []
    for kind in draw(st.lists(st.sampled_from(["valid", "poisoned", "malformed", "kind", "unstorable"]), max_size=5)):
        number = next(_event_numbers)
        event = message(str(FIRST_ID + number * 4096), text=f"dm {number}", at_ms=T0_MS + number)
        if kind in ("valid", "poisoned"):
            if kind == "poisoned":
                event["message_create"]["message_data"]["text"] += draw(POISON_TEXT)
            body.valid.append(event["id"])
        elif kind == "malformed":  # rejected by the parser, named in the detail with its path
            field_name = draw(st.sampled_from(["id", "created_timestamp", "message_create", "sender_id", "text"]))
            if field_name == "sender_id":
                event["message_create"]["sender_id"] = draw(NOT_AN_ID)
            elif field_name == "text":
                event["message_create"]["message_data"]["text"] = draw(NOT_TEXT)
            else:
                event[field_name] = draw(NOT_AN_OBJECT if field_name == "message_create" else NOT_AN_ID)
            body.set_aside = True
        elif kind == "kind":  # not handled here: ignored, and named
            event = {"type": draw(st.sampled_from(["message_delete", "\ud800", "x\udc00y", "\x00"]))}
            body.set_aside = True
        else:  # well formed, but the database could not keep it: set aside before the batch writes
            event["message_create"]["message_data"]["attachment"] = {
                "type": "media",
                "media": {"id_str": "7", "type": "photo", "media_url_https": "https://ton.twitter.com/" + "a" * 1001},
            }
            body.set_aside = True
        items.append(event)
    return items


@st.composite
def bodies(draw: st.DrawFn) -> Body:
    body = Body()
    body.parts["for_user_id"] = BUSINESS_ID
    body.parts["direct_message_events"] = draw(events(body))
    if draw(st.booleans()):
        name = "Jordan" + draw(POISON_TEXT)
        customer = "2244994945"
        body.parts["users"] = {customer: {"id": customer, "name": name, "screen_name": "jordan"}}
        if draw(st.booleans()):
            body.parts["users"]["12"] = draw(NOT_AN_OBJECT)  # a profile of the wrong shape is left out, and named
            body.set_aside = True
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(["favorite_events", "\ud800", "k\x00", "\udc00\ud800"]))
        body.parts[key] = draw(NOT_AN_OBJECT)  # an event family not handled here: ignored, and named
        body.set_aside = True
    if draw(st.integers(0, 3)) == 0:
        body.parts["extra"] = [draw(UNUSABLE)]
        body.unusable = True
    return body


@pytest.fixture(params=["wsgi", "asgi"])
def client(request: pytest.FixtureRequest) -> Client | AsgiClient:
    return Client() if request.param == "wsgi" else AsgiClient(application)


@pytest.fixture
def account():
    return account_for()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(bodies(), min_size=1, max_size=6))
def test_hostile_deliveries_never_answer_500_and_never_cost_a_valid_dm_or_a_later_delivery(client, account, batch):
    stored: list[tuple[Body, int]] = []

    # when each body is POSTed, signed, and the drain takes them all in one batch
    for body in batch:
        response = signed_post(client, body.bytes)
        assert response.status_code != 500
        if body.unusable:
            assert response.status_code == 400, response.content
            assert "not usable JSON" in response.json()["detail"]
        else:
            assert response.status_code == 200, response.content
            stored.append((body, response.json()["delivery_id"]))
    deliveries_drain()

    # then every valid DM is stored, and every delivery ended with its reasons, none left waiting
    for body, delivery_id in stored:
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        assert delivery.status != Status.RECEIVED
        assert Message.objects.filter(x_event_id__in=body.valid).count() == len(body.valid), delivery.detail
        if body.set_aside:
            assert delivery.detail, body.bytes[:300]
    # and a valid delivery after them is processed as ever
    later = str(FIRST_ID + next(_event_numbers) * 4096)
    response = signed_post(client, render({"for_user_id": BUSINESS_ID, "direct_message_events": [
        message(later, text="after the storm")]}).encode())  # fmt: skip
    assert response.status_code == 200
    deliveries_drain()
    assert Message.objects.filter(x_event_id=later).exists()
