"""XClient against X's recorded traffic and documented examples (x-fixtures/), replayed with ``responses``.

Every fixture that answers a call the client makes is replayed here with its status, headers and body;
the rest are listed in ``EXCLUDED`` with the reason, and a test keeps that list complete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from tests.xsandbox import FIXTURES
from twitter_channel import x_arguments
from twitter_channel.client import StaticUserAuth, XClient
from twitter_channel.x_errors import (
    AuthError,
    MalformedResponse,
    NotFound,
    PermanentError,
    RateLimited,
    Transient,
    XError,
)
from twitter_channel.x_results import LOOKUP_FIELDS, USER_FIELDS, RateLimit, RateWindow

BASE = "https://api.twitter.com"  # where every recording was made
TIMEOUT = (3.05, 7.5)
USER_TOKEN = "user-token"
APP_BEARER = "app-bearer"

# Fixtures the client does not replay, and why. Everything else in x-fixtures/ must be used below.
EXCLUDED = {
    # Webhook payloads X POSTs to us: the parser's business (twitter_channel/parsing), not the client's.
    "aaa_direct_message_events.docs.json": "AAA webhook payload (parser)",
    "aaa_direct_message_indicate_typing_events.docs.json": "AAA webhook payload (parser)",
    "aaa_direct_message_mark_read_events.docs.json": "AAA webhook payload (parser)",
    "aaa_quick_reply_response.koukoku.json": "AAA webhook payload (parser)",
    "aaa_tweet_delete_events.docs.json": "AAA webhook payload (parser)",
    "aaa_user_event_revoke.docs.json": "AAA webhook payload (parser)",
    "v2_aaa_replay_job_complete_event.docs.json": "webhook payload of a replay job (parser)",
    "xaa_dm_received.docs.json": "X Activity API webhook payload (parser)",
    "xaa_dm_sent.docs.json": "X Activity API webhook payload (parser)",
    # Our webhook endpoint answers these; the client never sees them.
    "webhook_crc_response_shape.docs.json": "CRC answer our webhook view sends",
    "v1_aaa_crc_response_example.docs.json": "CRC answer our webhook view sends (v1.1 docs)",
    "webhook_signature_test_vectors.autohook.json": "CRC/signature vectors for the webhook view",
    # v1.1 endpoints the client does not call (it uses v2 for DMs, media and webhooks).
    "tweepy_v1_send_and_delete_dm.cassette.json": "v1.1 direct_messages/events/new + destroy: not called",
    "tweepy_v1_list_dm_events.cassette.json": "v1.1 direct_messages/events/list: not called (v2 lookup instead)",
    "tweepy_v1_media_upload_chunked_mp4.cassette.json": "v1.1 upload.twitter.com chunked upload: v2 upload instead",
    "v1_get_dm_events_list_with_media.pingviini.json": "v1.1 events/list body: not called (parser may use it)",
    "pytwitter_v1_media_upload_init_response.json": "v1.1 media INIT: v2 upload instead",
    "pytwitter_v1_media_upload_finalize_response.json": "v1.1 media FINALIZE: v2 upload instead",
    "pytwitter_v1_media_upload_status_response.json": "v1.1 media STATUS: v2 upload instead",
    "v1_aaa_enterprise_register_webhook_response.docs.json": "v1.1 Enterprise webhook registration: v2 instead",
    # Specs, read by the OpenAPI tests below through their own loader.
    "openapi_dm_excerpt_v2.167.json": "OA 2.167: renamed schemas not seen on the wire; the client builds on 2.159",
}
OPENAPI = ("openapi_dm_excerpt.json", "openapi_media_upload_excerpt.json", "openapi_webhooks_aaa_excerpt.json")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_client(**kwargs: Any) -> XClient:
    options: dict[str, Any] = {
        "user_auth": StaticUserAuth(USER_TOKEN),
        "app_bearer": APP_BEARER,
        "base_url": BASE,
        "timeout": TIMEOUT,
    }
    return XClient(**{**options, **kwargs})


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """``responses`` that also insists every request carried the client's ``(connect, read)`` timeout."""
    with responses.RequestsMock() as mock:
        yield mock
        assert [call.request.req_kwargs["timeout"] for call in mock.calls] == [TIMEOUT] * len(mock.calls)


def add(mock: responses.RequestsMock, method: str, path: str, body: Any = None, status: int = 200, **kwargs: Any):
    payload = json.dumps(body) if isinstance(body, dict | list) else body
    kwargs.setdefault("content_type", "application/json; charset=utf-8")
    return mock.add(method, BASE + path, body=payload if payload is not None else "", status=status, **kwargs)


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


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def epoch(value: str | int) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


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


# --- documented examples: manage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "send", "path"),
    [
        (
            "v2_post_dm_with_participant_response.docs.json",
            "participant",
            "/2/dm_conversations/with/1234567890/messages",
        ),
        (
            "v2_post_dm_to_conversation_response.docs.json",
            "conversation",
            "/2/dm_conversations/1582103724607971328/messages",
        ),
        ("pytwitter_v2_create_dm_response.json", "participant", "/2/dm_conversations/with/1234567890/messages"),
    ],
)
def test_documented_send_answers_parse(rsps, name, send, path):
    body = load(name)
    add(rsps, "POST", path, body, status=201, match=[matchers.json_params_matcher({"text": "Hello!"})])
    client = make_client()

    if send == "participant":
        sent = client.dm_send_to_participant("1234567890", text="Hello!")
    else:
        sent = client.dm_send_to_conversation("1582103724607971328", text="Hello!")

    assert (sent.dm_conversation_id, sent.dm_event_id) == (
        body["data"]["dm_conversation_id"],
        body["data"]["dm_event_id"],
    )
    assert sent.rate_limit == RateLimit()


def test_group_create_sends_the_documented_request_and_reads_the_documented_answer(rsps):
    request = load("v2_post_dm_conversations_group_request.docs.json")
    add(
        rsps,
        "POST",
        "/2/dm_conversations",
        load("v2_post_dm_conversations_group_response.docs.json"),
        status=201,
        match=[matchers.json_params_matcher(request)],
    )

    sent = make_client().dm_group_create(request["participant_ids"], text=request["message"]["text"])

    assert (sent.dm_conversation_id, sent.dm_event_id) == ("1582103724607971328", "1582103724607971332")


def test_attachment_request_matches_the_documented_body(rsps):
    request = load("v2_post_dm_with_attachment_request.docs.json")
    add(
        rsps,
        "POST",
        "/2/dm_conversations/with/944480690/messages",
        load("pytwitter_v2_create_dm_response.json"),
        status=201,
        match=[matchers.json_params_matcher(request)],
    )

    sent = make_client().dm_send_to_participant("944480690", text=request["text"], media_id="1234567890123456789")

    assert sent.dm_event_id == "128341038123"


def test_media_only_message_sends_no_text(rsps):
    body = {"attachments": [{"media_id": "1583157113245011970"}]}
    add(
        rsps,
        "POST",
        "/2/dm_conversations/1582103724607971328/messages",
        load("v2_post_dm_to_conversation_response.docs.json"),
        status=201,
        match=[matchers.json_params_matcher(body)],
    )

    sent = make_client().dm_send_to_conversation("1582103724607971328", media_id="1583157113245011970")

    assert sent.dm_event_id == "1582106224379559940"


# --- documented examples: lookup ---------------------------------------------------------------------------


def test_default_fields_page(rsps):
    add(
        rsps,
        "GET",
        "/2/dm_conversations/1580705921830768643/dm_events",
        load("v2_get_dm_conversation_events_default_fields.docs.json"),
    )

    page = make_client().conversation_events_page("1580705921830768643", max_results=5)

    (event,) = page.events
    assert (event.id, event.event_type, event.text) == (
        "1580705921830768647",
        "MessageCreate",
        "hello to you two, this is a new group conversation.",
    )
    assert (event.sender_id, event.dm_conversation_id, event.created_at) == (None, None, None)
    assert (page.result_count, page.next_token, page.previous_token) == (
        1,
        "18LAA5FFPEKJA52G0G00ZZZZ",
        "1BLC45FFPEKJA52G0S00ZZZZ",
    )
    assert query(rsps.calls[0])["max_results"] == "5"


def test_all_fields_page(rsps):
    add(
        rsps,
        "GET",
        "/2/dm_conversations/1580705921830768643/dm_events",
        load("v2_get_dm_conversation_events_all_fields.docs.json"),
    )

    (event,) = make_client().conversation_events_page("1580705921830768643").events

    assert event.dm_conversation_id == "1580705921830768643"
    assert event.sender_id == "17200003"
    assert event.created_at == datetime(2022, 10, 13, 23, 43, 54, tzinfo=UTC)
    assert event.sender is None  # not expanded in this example


def test_expansions_page_resolves_users_and_posts(rsps):
    add(rsps, "GET", "/2/dm_conversations/with/944480690/dm_events", load("v2_get_dm_events_with_expansions.docs.json"))

    page = make_client().participant_events_page("944480690", event_types=["MessageCreate"])

    assert [e.id for e in page.events] == ["1585047616894574596", "1581048670673260549", "1580705121553420292"]
    assert {e.sender.username for e in page.events} == {"FloodSocial"}
    assert page.events[0].sender.description == "Hosting TwitterDev integrations... @TwitterDev #DevRel"
    assert page.events[0].dm_conversation_id == "944480690-906948460078698496"
    linked = page.events[1]
    assert linked.referenced_post_ids == ("1578900353814519810",)
    (post,) = linked.referenced_posts
    assert (post.id, post.author_id, post.created_at) == (
        "1578900353814519810",
        "944480690",
        datetime(2022, 10, 9, 0, 9, 13, tzinfo=UTC),
    )
    assert post.text.startswith("Feeling kind of bad")
    assert set(page.users) == {"944480690", "906948460078698496"}
    assert page.users["906948460078698496"].username == "SnowBotDev"
    assert (page.next_token, page.previous_token) == ("18LAA581J5II7LA00C00ZZZZ", "1BLC45G1H8CAL5DG0G00ZZZZ")
    assert query(rsps.calls[0])["event_types"] == "MessageCreate"


def test_event_type_examples(rsps):
    examples = load("v2_dm_event_types_examples.docs.json")
    body = {"data": list(examples.values()), "meta": {"result_count": 3}}
    add(rsps, "GET", "/2/dm_events", body)
    add(rsps, "GET", "/2/dm_events/1582835469712138240", {"data": examples["ParticipantsJoin"]})

    page = make_client().dm_events_page(event_types=["MessageCreate", "ParticipantsJoin", "ParticipantsLeave"])
    single = make_client().dm_event("1582835469712138240")

    message, joined, left = page.events
    assert (message.event_type, message.text, message.sender_id) == ("MessageCreate", "Hi everyone.", "944480690")
    assert (joined.event_type, joined.participant_ids, joined.sender_id) == (
        "ParticipantsJoin",
        ("944480690",),
        "17200003",
    )
    assert (left.event_type, left.participant_ids, left.sender_id, left.text) == (
        "ParticipantsLeave",
        ("944480690",),
        None,
        "",
    )
    assert left.created_at == datetime(2022, 10, 19, 20, 58, 9, tzinfo=UTC)
    assert [e.id for e in single.events] == ["1582835469712138240"] and single.result_count == 1
    assert single.next_token is None


def test_attachment_and_referenced_tweet_fragments_resolve_from_includes(rsps):
    event = {**load("v2_dm_event_types_examples.docs.json")["MessageCreate"]}
    event |= load("v2_dm_event_attachments_fragment.docs.json") | load(
        "v2_dm_event_referenced_tweets_fragment.docs.json"
    )
    includes = {
        "media": [
            {
                "media_key": "5_1583157113245011970",
                "type": "photo",
                "url": "https://ton.twitter.com/a.jpg",
                "width": 640,
                "height": 480,
                "alt_text": "a label",
            }
        ],
        "tweets": [{"id": "1580559079470145536", "text": "A post", "author_id": "17200003"}],
        "users": [
            {
                "id": "944480690",
                "name": "API Demos",
                "username": "FloodSocial",
                "receives_your_dm": True,
                "public_metrics": {"followers_count": "12"},
            }
        ],
    }
    add(rsps, "GET", f"/2/dm_events/{event['id']}", {"data": event, "includes": includes})

    (found,) = make_client().dm_event(event["id"]).events

    assert found.media_keys == ("5_1583157113245011970",)
    assert [(m.type, m.width, m.height, m.alt_text) for m in found.media] == [("photo", 640, 480, "a label")]
    assert [p.text for p in found.referenced_posts] == ["A post"]
    assert (found.sender.receives_your_dm, found.sender.followers_count) == (True, 12)


def test_group_photo_capture_without_meta(rsps):
    add(rsps, "GET", "/2/dm_events", load("pytwitter_v2_get_dm_events_group_photo.json"))

    page = make_client().dm_events_page()

    (event,) = page.events
    assert event.text == "Another photo https://t.co/J5KotyeIyd"
    assert (event.dm_conversation_id, event.sender_id) == ("1585094756761149440", "906948460078698496")
    assert event.created_at == datetime(2022, 10, 26, 17, 24, 21, tzinfo=UTC)
    assert (page.result_count, page.next_token) == (1, None)


def test_partial_errors_ride_along_with_data(rsps):
    errors = load("v2_partial_error_shape.docs.json")["errors"]
    body = {
        "data": [load("v2_dm_event_types_examples.docs.json")["MessageCreate"]],
        "errors": errors,
        "meta": {"result_count": 1},
    }
    add(rsps, "GET", "/2/dm_events", body)

    page = make_client().dm_events_page()

    assert [e.id for e in page.events] == ["1582838499983564806"]
    assert page.errors == tuple(errors)


def test_partial_error_example_verbatim_is_not_a_dm_page(rsps):
    # The documented partial-error example lists posts ({id, text}): no event_type, so not DM events.
    add(rsps, "GET", "/2/dm_events", load("v2_partial_error_shape.docs.json"))

    with pytest.raises(MalformedResponse, match=r"GET /2/dm_events: 200 .*event_type"):
        make_client().dm_events_page()


# --- documented examples: media upload ---------------------------------------------------------------------


def test_chunked_upload_with_the_documented_answers(rsps):
    data = bytes(range(256)) * 40  # 10240 bytes -> 3 segments of 4096
    init, final = load("v2_media_upload_init_response.docs.json"), load("v2_media_upload_finalize_response.docs.json")
    done = {"data": {**final["data"], "processing_info": {"state": "succeeded", "progress_percent": 100}}}
    media_id = init["data"]["id"]
    add(
        rsps,
        "POST",
        "/2/media/upload/initialize",
        init,
        match=[
            matchers.json_params_matcher(
                {"media_type": "video/mp4", "total_bytes": 10240, "media_category": "amplify_video"}
            )
        ],
    )
    append = add(rsps, "POST", f"/2/media/upload/{media_id}/append", {"data": {"expires_at": 1737000000}})
    add(rsps, "POST", f"/2/media/upload/{media_id}/finalize", final)
    status = add(rsps, "GET", "/2/media/upload", done)
    naps: list[float] = []

    media = make_client(sleep=naps.append).media_upload(
        data, media_type="video/mp4", media_category="amplify_video", chunk_size=4096
    )

    assert (media.media_id, media.media_key, media.size) == (media_id, "13_1880028106020515840", 1048576)
    assert (media.processing_state, media.expires_after_secs) == ("succeeded", 86400)
    assert naps == [1.0]  # finalize said pending, check_after_secs 1
    assert append.call_count == 3
    sent_segments = [c.request.body for c in rsps.calls if c.request.url.endswith("/append")]
    for index, body in enumerate(sent_segments):
        assert b'name="segment_index"\r\n\r\n' + str(index).encode() in body
        assert data[index * 4096 : (index + 1) * 4096] in body
    assert status.call_count == 1
    assert query(status.calls[0]) == {"command": "STATUS", "media_id": media_id}


def test_pytwitter_upload_finalize_succeeded_needs_no_status(rsps):
    init = load("pytwitter_v2_media_upload_init_response.json")
    media_id = init["data"]["id"]
    add(rsps, "POST", "/2/media/upload/initialize", init)
    add(rsps, "POST", f"/2/media/upload/{media_id}/append", status=204, body="")
    add(rsps, "POST", f"/2/media/upload/{media_id}/finalize", load("pytwitter_v2_media_upload_finalize_response.json"))
    naps: list[float] = []

    media = make_client(sleep=naps.append).media_upload(b"\x00" * 10, media_type="image/png", media_category="dm_image")

    assert (media.media_id, media.media_key, media.size) == ("1912090619981471744", "7_1912090619981471744", 19048761)
    assert (media.processing_state, naps, len(rsps.calls)) == ("succeeded", [], 3)


def test_pytwitter_status_answer_ends_the_wait(rsps):
    final = load("v2_media_upload_finalize_response.docs.json")
    media_id = final["data"]["id"]
    add(rsps, "POST", "/2/media/upload/initialize", load("v2_media_upload_init_response.docs.json"))
    add(rsps, "POST", f"/2/media/upload/{media_id}/append", status=204, body="")
    add(rsps, "POST", f"/2/media/upload/{media_id}/finalize", final)
    add(rsps, "GET", "/2/media/upload", load("pytwitter_v2_media_upload_status_response.json"))

    media = make_client(sleep=lambda s: None).media_upload(b"gif", media_type="image/gif", media_category="dm_gif")

    assert (media.processing_state, media.expires_after_secs, media.raw["processing_info"]["progress_percent"]) == (
        "succeeded",
        83800,
        100,
    )


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


# --- error bodies --------------------------------------------------------------------------------------------

SEND_PATH = "/2/dm_conversations/with/1/messages"
# x-api.md §4: real error bodies quoted from issue threads (no fixture file holds them).
REAL_401 = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
REAL_403_SCOPES = {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}
REAL_403_MEDIA = {
    "title": "Forbidden",
    "detail": "You are not permitted to attach this media to a DM event.",
    "type": "about:blank",
    "status": 403,
}
REAL_429 = {"title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests"}
CAPTURED_400 = {
    "errors": [
        {
            "parameters": {"max_results": ["0"]},
            "message": "The `max_results` query parameter value [0] is not between 5 and 100",
        }
    ],
    "title": "Invalid Request",
    "detail": "One or more parameters to your request was invalid.",
    "type": "https://api.twitter.com/2/problems/invalid-request",
}


@pytest.mark.parametrize(
    ("body", "status", "error", "title", "detail", "problem_type"),
    [
        (REAL_401, 401, AuthError, "Unauthorized", "Unauthorized", "about:blank"),
        (REAL_403_SCOPES, 403, PermanentError, "Forbidden", "Forbidden", "about:blank"),
        (REAL_403_MEDIA, 403, PermanentError, "Forbidden", REAL_403_MEDIA["detail"], "about:blank"),
        (REAL_429, 429, RateLimited, "Too Many Requests", "Too Many Requests", "about:blank"),
        (
            CAPTURED_400,
            400,
            PermanentError,
            "Invalid Request",
            "One or more parameters to your request was invalid. (The `max_results` query parameter value [0] is not "
            "between 5 and 100)",
            "https://api.twitter.com/2/problems/invalid-request",
        ),
        (
            "v2_error_problem_shape.docs.json",
            400,
            PermanentError,
            "Invalid Request",
            "The 'query' parameter is required.",
            "https://api.x.com/2/problems/invalid-request",
        ),
        (
            "v2_error_client_forbidden.docs.json",
            403,
            PermanentError,
            "Client Forbidden",
            "This request must be made using an approved developer account that is enrolled in the requested endpoint. "
            "Learn more by visiting our documentation.",
            "https://api.x.com/2/problems/client-forbidden",
        ),
        (
            "rate_limit_429_body_as_documented.docs.json",
            429,
            RateLimited,
            "Too Many Requests",
            "Rate limit exceeded (code 88)",
            "",
        ),
        (
            "v1_aaa_enterprise_error_214.docs.json",
            403,
            PermanentError,
            "Forbidden",
            "Too many resources already created. (code 214)",
            "",
        ),
    ],
    ids=["401", "403-scopes", "403-media", "429", "400", "problem-shape", "client-forbidden", "429-v1", "403-v1-214"],
)
def test_error_bodies_become_typed_errors(rsps, body, status, error, title, detail, problem_type):
    body = load(body) if isinstance(body, str) else body
    add(rsps, "POST", SEND_PATH, body, status=status, content_type="application/problem+json")

    with pytest.raises(error) as caught:
        make_client().dm_send_to_participant("1", text="hi", media_id="1234567890123456789")

    err = caught.value
    assert type(err) is error
    assert (err.status, err.title, err.detail, err.problem_type) == (status, title, detail, problem_type)
    assert (err.method, err.url, err.body) == ("POST", BASE + SEND_PATH, body)
    assert err.errors == body.get("errors", [])
    assert str(err) == f"POST {SEND_PATH}: {status} {title}" + (f" — {detail}" if detail != title else "")


def test_the_forbidden_media_message_reads_exactly(rsps):
    add(rsps, "POST", SEND_PATH, REAL_403_MEDIA, status=403, content_type="application/problem+json")

    with pytest.raises(PermanentError) as caught:
        make_client().dm_send_to_participant("1", media_id="1234567890123456789")

    assert str(caught.value) == (
        "POST /2/dm_conversations/with/1/messages: 403 Forbidden — "
        "You are not permitted to attach this media to a DM event."
    )


def test_documented_v1_rate_limit_body_is_rate_limited_even_without_429(rsps):
    add(rsps, "GET", "/2/users/me", load("rate_limit_429_body_as_documented.docs.json"), status=400)

    with pytest.raises(RateLimited) as caught:
        make_client().me()

    assert caught.value.errors == [{"code": 88, "message": "Rate limit exceeded"}]


def test_real_429_reset_comes_from_x_rate_limit_reset_epoch_seconds(rsps):
    headers = {"x-rate-limit-limit": "15", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1666920203"}
    add(rsps, "POST", SEND_PATH, REAL_429, status=429, headers=headers)

    with pytest.raises(RateLimited) as caught:
        make_client().dm_send_to_participant("1", text="hi")

    assert caught.value.reset_at == datetime(2022, 10, 28, 1, 23, 23, tzinfo=UTC)
    assert caught.value.rate_limit.remaining == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # The 24-hour user window is the empty one: wait for it, not for the 15-minute window.
        (
            {
                "x-rate-limit-limit": "15",
                "x-rate-limit-remaining": "9",
                "x-rate-limit-reset": "1700000900",
                "x-user-limit-24hour-limit": "1440",
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": "1700080000",
            },
            epoch(1700080000),
        ),
        (
            {
                "x-rate-limit-limit": "15",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": "1700000900",
                "x-app-limit-24hour-limit": "1440",
                "x-app-limit-24hour-remaining": "0",
                "x-app-limit-24hour-reset": "1700050000",
            },
            epoch(1700050000),
        ),
        ({"x-rate-limit-remaining": "3", "x-rate-limit-reset": "1700000900"}, epoch(1700000900)),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, datetime(2015, 10, 21, 7, 28, tzinfo=UTC)),
    ],
    ids=["user-24h-exhausted", "both-exhausted-latest-wins", "15min", "retry-after-date"],
)
def test_rate_limited_reset_picks_the_exhausted_window(rsps, headers, expected):
    add(rsps, "POST", SEND_PATH, REAL_429, status=429, headers=headers)

    with pytest.raises(RateLimited) as caught:
        make_client().dm_send_to_participant("1", text="hi")

    assert caught.value.reset_at == expected


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "120"}, 120), ({}, 15 * 60)])
def test_rate_limited_without_reset_header_waits_retry_after_or_fifteen_minutes(rsps, headers, wait):
    add(rsps, "GET", "/2/dm_events", load("rate_limit_429_body_as_documented.docs.json"), status=429, headers=headers)

    with pytest.raises(RateLimited) as caught:
        make_client().dm_events_page()

    expected = datetime.now(UTC) + timedelta(seconds=wait)
    assert abs((caught.value.reset_at - expected).total_seconds()) < 5
    assert wait - 5 < caught.value.seconds_until_reset <= wait


def test_rate_limit_headers_are_read_tolerantly():
    headers = {
        "X-Rate-Limit-Limit": "300",
        "x-rate-limit-remaining": "lots",
        "x-rate-limit-reset": "",
        "x-user-limit-24hour-limit": "1000",
        "x-user-limit-24hour-remaining": "999",
        "x-user-limit-24hour-reset": "1666920203",
        "x-app-limit-24hour-reset": "-5",
    }

    found = RateLimit.from_headers(headers)

    assert (found.limit, found.remaining, found.reset_at, found.app_24h) == (300, None, None, None)
    assert found.user_24h == RateWindow(1000, 999, datetime(2022, 10, 28, 1, 23, 23, tzinfo=UTC))
    assert RateLimit.from_headers({}) == RateLimit()


def test_user_lookup_answered_with_only_errors_is_not_found(rsps):
    not_found = {
        "errors": [
            {
                "value": "nobody",
                "detail": "Could not find user with username: [nobody].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": "nobody",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    add(rsps, "GET", "/2/users/by/username/nobody", not_found)

    with pytest.raises(NotFound) as caught:
        make_client().user_by_username("nobody")

    assert (caught.value.status, caught.value.title) == (200, "Not Found Error")
    assert (
        str(caught.value)
        == "GET /2/users/by/username/nobody: 200 Not Found Error — Could not find user with username: [nobody]."
    )


# --- every fixture is accounted for; requested fields are OA 2.159's ------------------------------------------


def _used_in_tests() -> set[str]:
    """Fixture file names written anywhere in the client tests, except in the ``EXCLUDED`` mapping."""
    used: set[str] = set()
    for path in Path(__file__).parent.glob("test_client_*.py"):
        source = re.sub(r"\nEXCLUDED = \{.*?\n\}\n", "\n", path.read_text(), flags=re.S)
        used.update(re.findall(r"""["']([\w.\-]+\.json)["']""", source))
    return used


def test_every_fixture_is_replayed_or_excluded_with_a_reason():
    on_disk = {p.name for p in FIXTURES.glob("*.json")}
    used = _used_in_tests() | set(OPENAPI)

    assert set(EXCLUDED) <= on_disk, f"EXCLUDED names files that do not exist: {set(EXCLUDED) - on_disk}"
    assert not used & set(EXCLUDED), f"used and excluded at once: {used & set(EXCLUDED)}"
    assert on_disk - used - set(EXCLUDED) == set(), "fixtures neither replayed nor excluded"
    assert all(reason.strip() for reason in EXCLUDED.values())


def _openapi_enum(name: str, parameter: str) -> set[str]:
    return set(load(name)["components"]["parameters"][parameter]["schema"]["items"]["enum"])


@pytest.mark.parametrize(
    ("query_name", "parameter"),
    [
        ("dm_event.fields", "DmEventFieldsParameter"),
        ("expansions", "DmEventExpansionsParameter"),
        ("media.fields", "MediaFieldsParameter"),
        ("user.fields", "UserFieldsParameter"),
        ("tweet.fields", "TweetFieldsParameter"),
    ],
)
def test_requested_fields_are_openapi_2_159_values(query_name, parameter):
    requested = LOOKUP_FIELDS[query_name].split(",")

    assert set(requested) <= _openapi_enum("openapi_dm_excerpt.json", parameter)
    assert len(requested) == len(set(requested))


def test_all_dm_event_fields_and_expansions_are_requested():
    assert set(LOOKUP_FIELDS["dm_event.fields"].split(",")) == _openapi_enum(
        "openapi_dm_excerpt.json", "DmEventFieldsParameter"
    )
    assert set(LOOKUP_FIELDS["expansions"].split(",")) == _openapi_enum(
        "openapi_dm_excerpt.json", "DmEventExpansionsParameter"
    )
    assert USER_FIELDS == LOOKUP_FIELDS["user.fields"]


def test_media_argument_checks_follow_the_openapi_enums():
    schemas = load("openapi_media_upload_excerpt.json")["components"]["schemas"]

    assert set(x_arguments.MEDIA_CATEGORIES) == set(schemas["MediaCategory"]["enum"])
    assert set(x_arguments.MEDIA_TYPES) == set(schemas["MediaUploadConfigRequest"]["properties"]["media_type"]["enum"])


# Paths the OA excerpts do not include (they are in the full spec / v1.1): checked by hand against x-api.md.
OUTSIDE_EXCERPTS = {
    ("GET", "/2/users/{id}"),
    ("GET", "/2/users/by/username/{username}"),
    ("GET", "/2/users"),
    ("POST", "/1.1/direct_messages/indicate_typing.json"),
    ("POST", "/1.1/direct_messages/mark_read.json"),
}


def _templates() -> list[tuple[str, re.Pattern[str], str]]:
    found = []
    for name in OPENAPI:
        for path, operations in load(name)["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            found.extend((method.upper(), pattern, path) for method in operations)
    for method, path in OUTSIDE_EXCERPTS:
        found.append((method, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path))
    return found


def test_every_endpoint_the_client_calls_is_in_openapi_2_159(rsps):
    rsps.add_callback(responses.GET, re.compile(r".*"), callback=lambda request: (599, {}, ""))
    for method in ("POST", "PUT", "DELETE"):
        rsps.add_callback(method, re.compile(r".*"), callback=lambda request: (599, {}, ""))
    client = make_client(sleep=lambda s: None)
    calls = [
        lambda: client.dm_send_to_participant("1", text="x"),
        lambda: client.dm_send_to_conversation("1-2", text="x"),
        lambda: client.dm_group_create(["1", "2"], text="x"),
        lambda: client.dm_event_delete("1"),
        lambda: client.dm_events_page(),
        lambda: client.conversation_events_page("1-2"),
        lambda: client.participant_events_page("1"),
        lambda: client.dm_event("1"),
        lambda: client.me(),
        lambda: client.user("1"),
        lambda: client.user_by_username("maria_codes"),
        lambda: client.users(["1", "2"]),
        lambda: client.media_upload(b"x", media_type="image/png", media_category="dm_image"),
        lambda: client.webhook_create("https://example.com/hook"),
        lambda: client.webhooks(),
        lambda: client.webhook_validate("1"),
        lambda: client.webhook_delete("1"),
        lambda: client.subscription_create("1"),
        lambda: client.subscription_check("1"),
        lambda: client.subscriptions("1"),
        lambda: client.subscription_delete("1", "2"),
        lambda: client.subscription_count(),
        lambda: client.indicate_typing("1"),
        lambda: client.mark_read("1", "2"),
    ]

    for call in calls:
        with pytest.raises(Transient):  # 599: every call reaches X once and fails as a 5xx
            call()

    templates = _templates()
    called = [(c.request.method, urlsplit(c.request.url).path) for c in rsps.calls]
    assert len(called) == len(calls)
    unknown = [(m, p) for m, p in called if not any(m == tm and pattern.match(p) for tm, pattern, _ in templates)]
    assert unknown == []


def test_errors_are_x_errors():
    assert all(issubclass(e, XError) for e in (RateLimited, Transient, AuthError, PermanentError, MalformedResponse))
    assert issubclass(MalformedResponse, Transient) and issubclass(NotFound, PermanentError)
