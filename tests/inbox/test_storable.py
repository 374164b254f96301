"""What ingest checks before a batch writes (``inbox.services.storable``): each reason names the column and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from inbox.dm_events import DmMedia, XUserProfile
from inbox.models import Message, MessageAttachment
from inbox.services.ingest import event_problem
from inbox.services.storable import columns_problem, json_problem, text_problem
from tests.factories import BASE_TIME, dm, make_inbox

pytestmark = pytest.mark.django_db


def nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("plain", None),
        ("Grüße 😀", None),
        ("a\x00b", "contains U+0000 at character 1"),
        ("é\udc00", "contains an unpaired surrogate U+DC00 at character 1"),
    ],
)
def test_text_problem(value: str, problem: str | None):
    assert text_problem(value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"urls": [{"start": 0, "end": 5, "media": False, "ratio": 1.5, "id": None}]}, None),
        ({"n": float("nan")}, "nan is not a JSON number"),
        ({"n": float("inf")}, "inf is not a JSON number"),
        ({"n": 2**64}, "the integer 1.845e+19 is too large"),
        ({1: "a"}, "a key is int"),
        ({"s": {1, 2}}, "set is not a JSON value"),
        ({"t": ["ok", "b\ud800"]}, "contains an unpaired surrogate U+D800 at character 1"),
        (nested(64), None),
        (nested(65), "nested deeper than 64 levels"),
    ],
    ids=["fine", "nan", "infinity", "huge-integer", "integer-key", "set", "surrogate", "64-deep", "65-deep"],
)
def test_json_problem(value: object, problem: str | None):
    assert json_problem(value) == problem


def test_columns_problem_names_the_model_the_column_and_why():
    assert columns_problem(MessageAttachment, {"width": 2**31}) == (
        "messageattachment.width: 2147483648 is out of range (0 to 2147483647)"
    )
    assert columns_problem(MessageAttachment, {"media_type": "x" * 17}) == (
        "messageattachment.media_type: 17 characters, at most 16 fit"
    )
    assert columns_problem(Message, {"text": "x" * 100_000, "width": None} | {"x_sequence": None}) is None


def test_an_event_is_checked_through_its_message_its_attachments_and_the_profiles_it_carries():
    inbox = make_inbox()
    fine = dm(inbox, "2244994945", text="hello", at=BASE_TIME, profile=XUserProfile("2244994945", name="J" * 500))
    assert event_problem(inbox=inbox, event=fine) is None  # a name too long is cut, as contacts_upsert cuts it

    huge_photo = DmMedia(media_type="photo", width=2**40)
    with_photo = dm(inbox, "2244994945", at=BASE_TIME + timedelta(seconds=1))
    assert event_problem(inbox=inbox, event=replace(with_photo, attachments=(huge_photo,))) == (
        "messageattachment.width: 1099511627776 is out of range (0 to 2147483647)"
    )
    famous = XUserProfile("2244994945", followers_count=2**33)
    assert event_problem(inbox=inbox, event=replace(fine, users={"2244994945": famous})) == (
        "contact.followers_count: 8589934592 is out of range (0 to 2147483647)"
    )
