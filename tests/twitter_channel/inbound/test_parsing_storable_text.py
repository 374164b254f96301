"""U+0000 and unpaired surrogates in X's JSON: PostgreSQL cannot store the first and UTF-8 cannot encode the second,
so the parser hands on U+FFFD instead, everywhere (keys and the names of what it ignored included)."""

from __future__ import annotations

import copy
import json
from dataclasses import fields, is_dataclass
from typing import Any

import pytest
from django.utils import timezone

from inbox.models import Contact, Message
from tests.factories import make_inbox
from twitter_channel.inbound.ingesting import account_events_ingest
from twitter_channel.inbound.parsing.payloads import (
    parse_v1_event,
    parse_v1_page,
    parse_v2_event,
    parse_v2_page,
    parse_v2_page_detailed,
    parse_webhook_payload,
)
from twitter_channel.models import XAccount
from twitter_channel.x.json_fields import MAX_JSON_DEPTH, PayloadError, storable_json

BRAND = "4337869213"
CUSTOMER = "3001969357"
EVENT_ID = "954491830116155396"
NUL = "\x00"
FFFD = "\ufffd"
TEXT_SENT = f'Order #{NUL}A1 "broken{NUL}"'
TEXT = f'Order #{FFFD}A1 "broken{FFFD}"'


def aaa_body() -> dict[str, Any]:
    """An Account Activity DM with NUL in its text, a hashtag, a user's name, a quick reply and the app's name."""
    body = {
        "for_user_id": BRAND,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": EVENT_ID,
                "created_timestamp": "1516403560557",
                "message_create": {
                    "target": {"recipient_id": BRAND},
                    "sender_id": CUSTOMER,
                    "source_app_id": "13090192",
                    "message_data": {
                        "text": TEXT_SENT,
                        "entities": {
                            "hashtags": [{"text": f"A{NUL}1", "indices": [6, 9]}],
                            "symbols": [],
                            "user_mentions": [],
                            "urls": [],
                        },
                        "quick_reply_response": {"type": "options", "metadata": f"sku{NUL}", f"k{NUL}ey": "v"},
                    },
                },
            }
        ],
        "apps": {"13090192": {"id": "13090192", "name": f"Camper{NUL}App"}},
        "users": {
            CUSTOMER: {"id": CUSTOMER, "name": f"Jordan{NUL}Brinks", "screen_name": "furiouscamper"},
            BRAND: {"id": BRAND, "name": "Brand", "screen_name": f"brand{NUL}"},
        },
    }
    # As X spells it on the wire: the six characters \u0000, which json.loads turns into U+0000.
    raw = json.dumps(body)
    assert "\\u0000" in raw and NUL not in raw
    return json.loads(raw)


def v2_body() -> dict[str, Any]:
    return {
        "data": [
            {
                "id": EVENT_ID,
                "event_type": "MessageCreate",
                "text": f"hi{NUL}",
                "sender_id": CUSTOMER,
                "dm_conversation_id": f"{CUSTOMER}-{BRAND}",
                "created_at": "2022-10-19T20:58:00.000Z",
                "entities": {"hashtags": [{"start": 0, "end": 2, "tag": f"h{NUL}"}]},
            }
        ],
        "includes": {"users": [{"id": CUSTOMER, "name": f"Jordan{NUL}", "username": "furiouscamper"}]},
        "meta": {"result_count": 1},
    }


def strings_in(value: object) -> list[str]:
    """Every string reachable from a parsed result: dataclass fields, mappings (keys too), sequences."""
    if isinstance(value, str):
        return [value]
    if is_dataclass(value) and not isinstance(value, type):
        return [s for f in fields(value) for s in strings_in(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings_in(k) + strings_in(v)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings_in(item)]
    return []


def assert_no_nul(value: object) -> None:
    assert [s for s in strings_in(value) if NUL in s] == []


# -- storable_json --------------------------------------------------------------------------------


def test_storable_json_returns_the_very_same_object_when_there_is_nothing_to_replace():
    body = json.loads(json.dumps(v2_body()).replace("\\u0000", ""))
    body["data"][0]["text"] = "Grüße 😀 ✓"  # characters beyond ASCII are kept as they are

    assert storable_json(body) is body


def test_storable_json_replaces_nul_in_strings_and_keys_at_any_depth_and_leaves_the_input_alone():
    body = {f"k{NUL}": [f"a{NUL}b", {"n": 1, "f": 1.5, "t": True, "z": None, "s": f"{NUL}"}], "same": ["x"]}
    before = copy.deepcopy(body)

    cleaned = storable_json(body)

    assert cleaned == {f"k{FFFD}": [f"a{FFFD}b", {"n": 1, "f": 1.5, "t": True, "z": None, "s": FFFD}], "same": ["x"]}
    assert body == before
    assert storable_json(f"{NUL}{NUL}") == FFFD * 2
    assert storable_json((f"{NUL}",)) == (FFFD,)
    assert storable_json(7) == 7


@pytest.mark.parametrize(
    ("wire", "text"),
    [
        ('"\\ud800"', FFFD),  # a lone high surrogate
        ('"a\\udfffb"', f"a{FFFD}b"),  # a lone low surrogate
        ('"\\ude00\\ud83d"', FFFD * 2),  # a pair in the wrong order
        ('"\\ud83d\\ude00 \\ud83d"', f"\U0001f600 {FFFD}"),  # a right pair is the character it stands for
        ('"\\u0000\\ud800\\u00e9"', f"{FFFD}{FFFD}é"),
    ],
    ids=["lone-high", "lone-low", "reversed-pair", "pair-then-lone", "nul-surrogate-accent"],
)
def test_storable_json_replaces_every_unpaired_surrogate_as_json_spells_it(wire: str, text: str):
    decoded = json.loads(f"{{{wire}: [{wire}]}}")

    cleaned = storable_json(decoded)

    assert cleaned == {text: [text]}
    [(key, [value])] = cleaned.items()
    assert (key + value).encode("utf-8")


def test_storable_json_refuses_json_nested_deeper_than_the_limit_without_recursing():
    deep: Any = "x"
    for _ in range(MAX_JSON_DEPTH):
        deep = [deep]
    assert storable_json(deep) is deep

    for deeper in ([deep], {"k": deep}):
        with pytest.raises(PayloadError, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
            storable_json(deeper)
    very_deep: Any = []
    for _ in range(50_000):
        very_deep = [very_deep]
    with pytest.raises(PayloadError):
        storable_json(very_deep)


# -- the parser's entry points --------------------------------------------------------------------


def test_a_webhook_dm_with_nul_in_text_entity_and_user_name_parses_to_the_replacement_character():
    # when
    delivery = parse_webhook_payload(aaa_body())

    # then
    assert delivery.rejected == ()
    [event] = delivery.dm_events
    assert event.text == TEXT
    assert event.entities["hashtags"] == [{"start": 6, "end": 9, "tag": f"A{FFFD}1"}]
    assert event.users[CUSTOMER].name == f"Jordan{FFFD}Brinks"
    assert event.users[BRAND].handle == f"brand{FFFD}"
    assert event.quick_reply_response == {"type": "options", "metadata": f"sku{FFFD}", f"k{FFFD}ey": "v"}
    assert event.source_app_name == f"Camper{FFFD}App"
    assert_no_nul(delivery)


def test_typing_and_read_events_hand_on_no_nul_and_ignored_names_neither():
    body = {
        "for_user_id": BRAND,
        "direct_message_mark_read_events": [
            {
                "created_timestamp": "1516403560557",
                "sender_id": CUSTOMER,
                "target": {"recipient_id": BRAND},
                "last_read_event_id": EVENT_ID,
            }
        ],
        "users": {CUSTOMER: {"id": CUSTOMER, "name": f"Jordan{NUL}", "screen_name": "furiouscamper"}},
        f"new_family{NUL}": [],
    }

    delivery = parse_webhook_payload(body)

    [read] = delivery.reads
    assert read.users[CUSTOMER].name == f"Jordan{FFFD}"
    assert delivery.ignored == (f"new_family{FFFD}",)
    assert_no_nul(delivery)


def test_every_lookup_entry_point_hands_on_no_nul():
    aaa_event = aaa_body()["direct_message_events"][0]
    v1_page = {"events": [aaa_event], "apps": aaa_body()["apps"], "users": aaa_body()["users"]}
    v2 = v2_body()

    results = [
        parse_v2_page(v2),
        parse_v2_page_detailed(v2),
        parse_v2_event(v2["data"][0], includes=v2["includes"]),
        parse_v1_page(v1_page),
        parse_v1_event(aaa_event, users=aaa_body()["users"], apps=aaa_body()["apps"]),
    ]

    for result in results:
        assert_no_nul(result)
    assert results[2].text == f"hi{FFFD}"
    assert results[2].users[CUSTOMER].name == f"Jordan{FFFD}"
    assert results[4].text == TEXT


# -- stored -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_dm_with_nul_is_stored_with_the_replacement_character():
    # given
    now = timezone.now()
    account = XAccount.objects.create(
        inbox=make_inbox(x_user_id=BRAND), status=XAccount.Status.CONNECTED, status_changed_at=now, connected_at=now
    )
    delivery = parse_webhook_payload(aaa_body())

    # when
    [result] = account_events_ingest(account=account, events=delivery.dm_events)

    # then
    assert result.created
    message = Message.objects.get(x_event_id=EVENT_ID)
    assert message.text == TEXT
    assert message.entities["hashtags"] == [{"start": 6, "end": 9, "tag": f"A{FFFD}1"}]
    assert message.quick_reply_response == {"type": "options", "metadata": f"sku{FFFD}", f"k{FFFD}ey": "v"}
    assert Contact.objects.get(x_user_id=CUSTOMER).name == f"Jordan{FFFD}Brinks"
