"""Properties of the parsers on arbitrary input: only ``PayloadError`` ever escapes, ids stay X's ids."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbox.dm_events import DmEvent
from tests.xsandbox import fixture_json
from twitter_channel.inbound.parsing.payloads import (
    PayloadError,
    parse_v1_event,
    parse_v1_page,
    parse_v2_event,
    parse_v2_page_detailed,
    parse_webhook_payload,
)

KEYS = st.sampled_from(
    [
        "id", "type", "data", "text", "users", "apps", "for_user_id", "event_type", "payload", "filter", "user_id",
        "direct_message_events", "direct_message_indicate_typing_events", "direct_message_mark_read_events",
        "message_create", "message_data", "target", "recipient_id", "sender_id", "created_timestamp", "created_at",
        "dm_conversation_id", "participant_ids", "attachments", "media_keys", "includes", "media", "entities", "urls",
        "indices", "start", "end", "attachment", "variants", "events", "event", "media_key", "last_read_event_id",
    ]
) | st.text(max_size=8)  # fmt: skip
# Values that have broken parsers before: non-ASCII digits (str.isdigit() accepts them, int() may not),
# times at the edges of datetime's range, numbers where strings belong and the reverse.
NASTY = st.sampled_from(
    [
        "²", "٣٤", "1²", "-1", "", " 1", "1" * 20, "9" * 19, "0", "1-", "-", "1-2-3", "1_", "_1", "3_²",
        "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2022-10-19", "2022-10-19T20:58:00",
        "99999999999999999", "253402300800000", 10**30, -1, 1.5, True, [], {}, None,
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
    | st.sampled_from(["message_create", "MessageCreate", "ParticipantsJoin", "dm.received", "media", "photo"])
    | st.from_regex(r"[0-9]{1,20}(-[0-9]{1,20})?", fullmatch=True)
    | st.from_regex(r"[0-9]{1,4}_[0-9]{1,20}", fullmatch=True)
    | st.sampled_from(["2022-10-19T20:58:00.000Z"])
    | NASTY
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=40,
)
FIXTURES = [
    fixture_json("aaa_direct_message_events.docs.json"),
    fixture_json("aaa_direct_message_indicate_typing_events.docs.json"),
    fixture_json("aaa_direct_message_mark_read_events.docs.json"),
    fixture_json("xaa_dm_received.docs.json"),
    fixture_json("v1_get_dm_events_list_with_media.pingviini.json"),
    fixture_json("v2_get_dm_events_with_expansions.docs.json"),
    {"data": list(fixture_json("v2_dm_event_types_examples.docs.json").values())},
]
PARSERS = [
    parse_webhook_payload,
    parse_v1_page,
    parse_v2_page_detailed,
    lambda body: parse_v2_event(body, includes={}),
    lambda body: parse_v2_event(body, includes=body),
    lambda body: parse_v1_event(body, users=body, apps=body),
]


def _run_all(body: Any) -> None:
    for parse in PARSERS:
        try:
            result = parse(body)
        except PayloadError:
            continue
        for event in _events(result):
            assert event.x_event_id.isascii() and event.x_event_id.isdigit()
            assert event.created_at.utcoffset() is not None and event.created_at.utcoffset().total_seconds() == 0
            assert all(part.isascii() and part.isdigit() for part in event.x_conversation_id.split("-"))


def _events(result: Any) -> tuple[DmEvent, ...]:
    if isinstance(result, DmEvent):
        return (result,)
    return tuple(getattr(result, "dm_events", ()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON)
def test_arbitrary_json_raises_nothing_but_payload_error(body):
    _run_all(body)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> Any:
    """A recorded payload with one node (anywhere, at any depth) replaced by arbitrary JSON."""
    body = copy.deepcopy(draw(st.sampled_from(FIXTURES)))
    path = draw(st.sampled_from(_paths(body)))
    replacement = draw(NASTY | JSON)
    if not path:
        return replacement
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return body


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_fixtures())
def test_nearly_valid_payloads_raise_nothing_but_payload_error(body):
    _run_all(body)


USER_IDS = st.integers(min_value=0, max_value=10**19 - 1).map(str)


@given(sender=USER_IDS, recipient=USER_IDS)
def test_one_to_one_conversation_id_is_numerically_ordered_whoever_sends(sender, recipient):
    def body(frm: str, to: str) -> dict:
        return {
            "for_user_id": to,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": "954491830116155396",
                    "created_timestamp": "1516403560557",
                    "message_create": {"target": {"recipient_id": to}, "sender_id": frm, "message_data": {}},
                }
            ],
        }

    [there] = parse_webhook_payload(body(sender, recipient)).dm_events
    [back] = parse_webhook_payload(body(recipient, sender)).dm_events

    low, high = sorted((int(sender), int(recipient)))
    assert there.x_conversation_id == back.x_conversation_id == f"{low}-{high}"
    assert there.one_to_one_counterpart(sender) == (recipient if sender != recipient else None)
