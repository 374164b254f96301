"""One poisoned delivery or event never costs the others: each is stored, normalised, or set aside with its reason.

Before, a lone surrogate (valid JSON: ``"\\ud800"``) copied into a note made saving the outcomes raise
``UnicodeEncodeError``, the batch rolled back, and the delivery, always the oldest, headed every later batch:
DM processing stopped for every account. A surrogate in one DM's text did not trigger the one-event-at-a-time
fallback (not a database error), so it took its batch of good DMs with it.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from django.test import Client

from inbox.models import Contact, Message
from inbox.services import ingest
from inbox.services.ingest import UnstorableEvent, dm_events_ingest
from tests.factories import BASE_TIME, dm, make_inbox, minutes
from tests.twitter_channel.inbound.webhook_deliveries import (
    FIRST_ID,
    T0_MS,
    aaa,
    account_for,
    consumer_secret,
    message,
    signed_post,
)
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID
from twitter_channel.inbound import delivery_processing
from twitter_channel.inbound.deliveries import deliveries_drain, deliveries_sweep
from twitter_channel.inbound.parsing import payloads as parsing
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db
__all__ = ["consumer_secret"]  # the autouse fixture, from webhook_deliveries

FFFD = "\ufffd"
Status = WebhookDelivery.Status
# As the issue found them: each stopped all DM processing, for every account, for good.
WEDGING = {
    "unknown-event-type": b'{"for_user_id":"%s","direct_message_events":[{"type":"\\ud800"}]}' % BUSINESS_ID.encode(),
    "unknown-top-level-key": b'{"for_user_id":"%s","\\udc00":[]}' % BUSINESS_ID.encode(),
    "user-event-kind": b'{"user_event":{"\\ud83d":{}}}',
}
# The user_event names no account: nothing in it concerns one.
WEDGING_ENDS = {"unknown-event-type": Status.PROCESSED, "unknown-top-level-key": Status.PROCESSED,
                "user-event-kind": Status.IGNORED}  # fmt: skip


def post_all(bodies: list[bytes]) -> list[WebhookDelivery]:
    """POST each body as X does; return the stored deliveries (none is processed yet)."""
    client = Client()
    responses = [signed_post(client, body) for body in bodies]
    assert [r.status_code for r in responses] == [200] * len(bodies), [r.content for r in responses]
    return [WebhookDelivery.objects.get(pk=r.json()["delivery_id"]) for r in responses]


def good(n: int, **kw) -> bytes:
    return json.dumps(aaa(direct_message_events=[message(FIRST_ID + n * 4096, text=f"good {n}", **kw)])).encode()


@pytest.mark.parametrize("case", WEDGING.keys())
def test_the_wedging_delivery_followed_by_valid_ones_stops_nothing(case: str):
    # given the poisoned delivery, then five valid ones, stored in that order
    account_for()
    bad, *valid = post_all([WEDGING[case], *(good(n, at_ms=T0_MS + n) for n in range(5))])

    # when the drain takes them (the bad one heads the batch)
    deliveries_drain()

    # then all five DMs are stored and every delivery is processed, the bad one with what it set aside
    assert sorted(Message.objects.values_list("text", flat=True)) == [f"good {n}" for n in range(5)]
    bad.refresh_from_db()
    assert bad.status == WEDGING_ENDS[case]
    assert "Ignored (not handled here): " in bad.detail and FFFD in bad.detail
    assert {d.status for d in WebhookDelivery.objects.exclude(pk=bad.pk)} == {Status.PROCESSED}
    # and nothing is left for the sweep
    assert (deliveries_sweep().retried, WebhookDelivery.objects.filter(status=Status.RECEIVED).count()) == (0, 0)


def test_poisoned_events_are_stored_normalised_beside_fifty_good_dms_of_their_batch():
    # given 50 good DMs and, in the same batch, a lone surrogate in a DM's text, in its sender's profile name, a
    # reversed pair, and NUL, each in a delivery of its own among the good ones
    account_for()
    poisoned = {
        "text": aaa(direct_message_events=[message(FIRST_ID + 1, text="lone \ud800 surrogate")]),
        "name": aaa(
            direct_message_events=[message(FIRST_ID + 2, text="profile", sender="3000000002")],
            users={"3000000002": {"id": "3000000002", "name": "Jo\udc00rdan", "screen_name": "jo"}},
        ),
        "reversed": aaa(direct_message_events=[message(FIRST_ID + 3, text="pair \ude00\ud83d reversed")]),
        "nul": aaa(direct_message_events=[message(FIRST_ID + 4, text="nul \x00 here")]),
    }
    bodies = [good(10 + n, at_ms=T0_MS + n) for n in range(50)]
    for i, body in enumerate(poisoned.values()):
        bodies.insert(10 * i + 5, json.dumps(body).encode())  # json.dumps spells them \ud800, \u0000
    post_all(bodies)

    deliveries_drain(batch_size=100)

    texts = set(Message.objects.values_list("text", flat=True))
    assert {f"good {10 + n}" for n in range(50)} <= texts and len(texts) == 54
    assert {f"lone {FFFD} surrogate", f"pair {FFFD}{FFFD} reversed", f"nul {FFFD} here", "profile"} <= texts
    assert Contact.objects.get(x_user_id="3000000002").name == f"Jo{FFFD}rdan"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {Status.PROCESSED}


def test_a_delivery_naming_thousands_of_unknown_keys_keeps_a_bounded_detail():
    account_for()
    [delivery] = post_all([json.dumps(aaa(**{f"family_{n}": [] for n in range(3000)})).encode()])

    deliveries_drain()

    delivery.refresh_from_db()
    assert delivery.status == Status.PROCESSED
    assert len(delivery.detail) <= delivery_processing.MAX_DETAIL_LENGTH
    assert delivery.detail.startswith("Ignored (not handled here): family_0, family_1,")
    assert delivery.detail.endswith(" characters more]")


def test_an_event_that_cannot_be_stored_is_set_aside_with_its_reason_and_its_batch_is_stored():
    # given a batch of good DMs and one whose attachment X gave an address longer than any we keep
    account_for()
    too_long = message(FIRST_ID + 7, text="")
    url = "https://ton.twitter.com/" + "a" * 1500
    too_long["message_create"]["message_data"]["attachment"] = {
        "type": "media",
        "media": {"id_str": "7", "type": "photo", "media_url_https": url},
    }
    bad, *_ = post_all([json.dumps(aaa(direct_message_events=[too_long])).encode(), *(good(n) for n in range(20))])

    deliveries_drain()

    assert Message.objects.count() == 20
    bad.refresh_from_db()
    assert bad.status == Status.FAILED
    assert bad.detail == (
        f"Not stored: event {FIRST_ID + 7}: cannot be stored: messageattachment.url: {len(url)} characters, "
        "at most 1000 fit."
    )
    assert set(WebhookDelivery.objects.exclude(pk=bad.pk).values_list("status", flat=True)) == {Status.PROCESSED}


def test_a_body_the_drain_cannot_read_any_more_is_failed_with_the_reason_and_the_rest_processed():
    # given deliveries stored before the webhook refused such bodies: NaN, a float too large, a huge integer
    account_for()
    unreadable = [b'{"for_user_id": NaN}', b'{"x": 1e999999}', b'{"x": ' + b"7" * 5000 + b"}"]
    for body in unreadable:
        WebhookDelivery.objects.create(received_at=BASE_TIME, body=body.decode())
    post_all([good(1)])

    deliveries_drain()

    details = list(WebhookDelivery.objects.filter(status=Status.FAILED).order_by("pk").values_list("detail", flat=True))
    assert details == [
        "Not a delivery we can read: The body is not usable JSON: NaN is not a JSON number.",
        "Not a delivery we can read: The body is not usable JSON: the number 1e999999 is too large to hold.",
        "Not a delivery we can read: The body is not usable JSON: the integer 777777777777777777777777... "
        "(5000 digits) does not fit in 64 bits, as every number X sends does.",
    ]
    assert list(Message.objects.values_list("text", flat=True)) == ["good 1"]


def test_an_outcome_that_cannot_be_saved_is_saved_plainly_and_the_batch_still_commits(monkeypatch):
    # given the text checks of the parser and of the outcome both missing (as before this was fixed), so that the
    # wedging delivery's note carries a lone surrogate that cannot be encoded
    monkeypatch.setattr(parsing, "storable_json", lambda value: value)
    monkeypatch.setattr(delivery_processing, "storable_json", lambda value: value)
    account_for()
    bad, *_ = post_all([WEDGING["unknown-event-type"], *(good(n) for n in range(3))])

    deliveries_drain()

    assert Message.objects.count() == 3
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == (Status.FAILED, 1)
    assert bad.detail == "Processing stopped: its outcome could not be saved (UnicodeEncodeError)."
    assert set(WebhookDelivery.objects.exclude(pk=bad.pk).values_list("status", flat=True)) == {Status.PROCESSED}


# -- the ingest service ----------------------------------------------------------------------------------------


def test_an_event_no_parser_cleaned_is_checked_before_the_batch_writes_and_set_aside():
    inbox = make_inbox()
    events = [dm(inbox, CUSTOMER_ID, text=f"ok {n}", at=BASE_TIME + minutes(n)) for n in range(5)]
    bad = dm(inbox, CUSTOMER_ID, text="abc\ud800", at=BASE_TIME)
    refused: list[tuple[str, Exception]] = []

    results = dm_events_ingest(
        inbox=inbox, events=[*events, bad], on_error=lambda event, exc: refused.append((event.x_event_id, exc))
    )

    assert [r.event.text for r in results] == [f"ok {n}" for n in range(5)]
    [(event_id, exc)] = refused
    assert event_id == bad.x_event_id and isinstance(exc, UnstorableEvent)
    assert exc.problem == "message.text: contains an unpaired surrogate U+D800 at character 3"
    with pytest.raises(UnstorableEvent, match="U\\+D800"):
        dm_events_ingest(inbox=inbox, events=[bad, replace(events[0], x_event_id=str(FIRST_ID))])


def test_a_batch_that_fails_for_any_reason_goes_one_event_at_a_time_and_keeps_the_good_ones(monkeypatch):
    # given the check before the batch missing, so that the database driver meets the surrogate (UnicodeEncodeError
    # is not a database error)
    monkeypatch.setattr(ingest, "event_problem", lambda **kw: None)
    inbox = make_inbox()
    events = [dm(inbox, str(4_000_000_000 + n), text=f"ok {n}", at=BASE_TIME + minutes(n)) for n in range(30)]
    bad = dm(inbox, CUSTOMER_ID, text="abc\ud800", at=BASE_TIME)
    refused: list[str] = []

    results = dm_events_ingest(
        inbox=inbox, events=[*events, bad], on_error=lambda event, exc: refused.append(type(exc).__name__)
    )

    assert len(results) == 30 and Message.objects.count() == 30
    assert refused == ["UnicodeEncodeError"]
