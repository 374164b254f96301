"""XClient against X's real recorded traffic (tweepy's cassettes in x-fixtures/), replayed with ``responses``:
every recorded interaction with its status, headers and body, and the exact JSON request body."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from responses import matchers

from tests.twitter_channel.x.client_replay import USER_TOKEN, epoch, load, make_client, query, rsps
from twitter_channel.x.rate_limits import RateLimit
from twitter_channel.x.results import LOOKUP_FIELDS, USER_FIELDS

__all__ = ["rsps"]  # the fixture, from client_replay


def add_cassette(mock: responses.RequestsMock, name: str) -> list[dict[str, Any]]:
    """Register each recorded interaction; a recorded JSON request body must be sent exactly."""
    interactions = load(name)
    for interaction in interactions:
        request, response = interaction["request"], interaction["response"]
        headers = {k: v for k, v in response["headers"].items() if k.lower() != "content-type"}
        content_type = next((v for k, v in response["headers"].items() if k.lower() == "content-type"), None)
        body = response["body"]
        match = [matchers.json_params_matcher(request["body"])] if isinstance(request["body"], dict) else []
        mock.add(
            request["method"],
            request["uri"],
            body=json.dumps(body) if isinstance(body, dict | list) else body or "",
            status=response["status"]["code"],
            headers=headers,
            content_type=content_type,
            match=match,
        )
    return interactions


def rate_limit_of(headers: dict[str, str]) -> RateLimit:
    lower = {k.lower(): v for k, v in headers.items()}
    return RateLimit(
        limit=int(lower["x-rate-limit-limit"]),
        remaining=int(lower["x-rate-limit-remaining"]),
        reset_at=epoch(lower["x-rate-limit-reset"]),
    )


# --- real recordings (tweepy cassettes) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "first_reset"),
    [
        ("tweepy_v2_manage_and_lookup_dms.cassette.json", datetime(2022, 10, 28, 1, 23, 23, tzinfo=UTC)),
        ("tweepy_v2_manage_and_lookup_dms_async.cassette.json", datetime(2022, 10, 28, 2, 53, 46, tzinfo=UTC)),
    ],
)
def test_tweepy_v2_manage_and_lookup_cassette_replays(rsps, name, first_reset):
    recorded = add_cassette(rsps, name)
    answers = [i["response"] for i in recorded]
    client = make_client()
    one_to_one = "750362064426721281-1072250532645998596"

    first = client.dm_send_to_participant("750362064426721281", text="Testing 1")
    second = client.dm_send_to_conversation(one_to_one, text="Testing 2")
    group = client.dm_group_create(["145336962", "750362064426721281"], text="Testing")
    everything = client.dm_events_page()
    conversation = client.conversation_events_page(one_to_one)
    with_participant = client.participant_events_page("750362064426721281")

    sent = [first, second, group]
    assert [s.dm_event_id for s in sent] == [a["body"]["data"]["dm_event_id"] for a in answers[:3]]
    assert first.dm_conversation_id == second.dm_conversation_id == one_to_one
    assert group.dm_conversation_id == answers[2]["body"]["data"]["dm_conversation_id"]
    assert "-" not in group.dm_conversation_id
    # The Location header quotes the id ("…/dm_events/\"158…\""); the client reads the body instead.
    assert f'"{first.dm_event_id}"' in rsps.calls[0].response.headers["location"]
    assert first.rate_limit.reset_at == first_reset
    assert [s.rate_limit for s in sent] == [rate_limit_of(a["headers"]) for a in answers[:3]]
    assert first.rate_limit.limit == 200 and first.rate_limit.user_24h is None and first.rate_limit.app_24h is None
    assert (everything.events, everything.result_count, everything.next_token) == ((), 0, None)
    assert everything.rate_limit == rate_limit_of(answers[3]["headers"])
    for page, answer in ((conversation, answers[4]), (with_participant, answers[5])):
        assert [(e.id, e.event_type, e.text) for e in page.events] == [
            (d["id"], "MessageCreate", d["text"]) for d in answer["body"]["data"]
        ]
        assert [e.text for e in page.events] == ["Testing 2", "Testing 1"]
        assert (page.result_count, page.next_token, page.previous_token) == (
            2,
            answer["body"]["meta"]["next_token"],
            answer["body"]["meta"]["previous_token"],
        )
        assert page.events[0].sender is None and page.events[0].created_at is None
        assert page.rate_limit == rate_limit_of(answer["headers"])
    assert {c.request.headers["Authorization"] for c in rsps.calls} == {f"Bearer {USER_TOKEN}"}
    lookup = query(rsps.calls[3])
    assert lookup == {"max_results": "100", **LOOKUP_FIELDS}


def test_tweepy_v2_get_users_me_cassette_replays(rsps):
    add_cassette(rsps, "tweepy_v2_get_users_me.cassette.json")

    result = make_client().me()

    assert (result.user.id, result.user.username, result.user.name) == (
        "1072250532645998596",
        "TweepyDev",
        "Tweepy Testing",
    )
    assert result.user.raw == {"id": "1072250532645998596", "name": "Tweepy Testing", "username": "TweepyDev"}
    assert result.rate_limit == RateLimit(limit=75, remaining=74, reset_at=datetime(2022, 1, 7, 8, 20, 56, tzinfo=UTC))
    assert query(rsps.calls[0]) == {"user.fields": USER_FIELDS}


def test_tweepy_v1_indicate_typing_cassette_replays(rsps):
    add_cassette(rsps, "tweepy_v1_indicate_typing.cassette.json")  # 204, text/html, empty body

    done = make_client().indicate_typing("1072250532645998596")

    assert done.data == {} and done.rate_limit == RateLimit()
    assert rsps.calls[0].request.method == "POST"
    assert query(rsps.calls[0]) == {"recipient_id": "1072250532645998596"}
