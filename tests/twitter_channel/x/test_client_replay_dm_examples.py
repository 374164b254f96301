"""XClient against X's documented DM examples (x-fixtures/), replayed with ``responses``: sending (one-to-one,
to a conversation, groups, attachments) and looking DM events up (fields, expansions, event types, partial errors)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from responses import matchers

from tests.twitter_channel.x.client_replay import add, load, make_client, query, rsps
from twitter_channel.x.errors import MalformedResponse
from twitter_channel.x.rate_limits import RateLimit

__all__ = ["rsps"]  # the fixture, from client_replay


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
