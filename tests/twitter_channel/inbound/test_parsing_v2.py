"""v2 ``dm_events`` lookups -> normalized events, against the documented and recorded bodies."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from inbox.dm_events import DmEventType, DmMedia, MediaVariant, XUserProfile
from tests.twitter_channel.x.client_replay import add, make_client, rsps
from tests.xsandbox import fixture_json
from twitter_channel.inbound.parsing.payloads import (
    ParsedPage,
    PayloadError,
    parse_v2_event,
    parse_v2_page,
    parse_v2_page_detailed,
    read_lookup_page,
)
from twitter_channel.x.errors import MalformedResponse
from twitter_channel.x.rate_limits import RateLimit

__all__ = ["rsps"]  # the fixture, from client_replay

EXAMPLES = fixture_json("v2_dm_event_types_examples.docs.json")


def message(**changes) -> dict:
    return {**EXAMPLES["MessageCreate"], **changes}


def test_page_with_expansions_keeps_x_order_ids_times_posts_and_profiles():
    page = parse_v2_page_detailed(fixture_json("v2_get_dm_events_with_expansions.docs.json"))

    assert page.rejected == () and page.ignored == ()
    assert [(e.x_event_id, e.created_at, e.text) for e in page.dm_events] == [
        ("1585047616894574596", datetime(2022, 10, 25, 23, 16, 15, tzinfo=UTC), "Hello, just you!"),
        ("1581048670673260549", datetime(2022, 10, 14, 22, 25, 52, tzinfo=UTC), "Simple Tweet link: https://t.co/IYFbRIdXHg"),
        ("1580705121553420292", datetime(2022, 10, 13, 23, 40, 43, tzinfo=UTC), "Adding a new 1-to-1 Direct Message."),
    ]  # fmt: skip
    first, linked, _ = page.dm_events
    assert {e.x_conversation_id for e in page.dm_events} == {"944480690-906948460078698496"}
    assert {e.sender_id for e in page.dm_events} == {"944480690"}
    assert first.is_group is False
    assert first.one_to_one_counterpart("944480690") == "906948460078698496"
    assert linked.referenced_post_ids == ("1578900353814519810",)
    assert first.referenced_post_ids == ()
    # Fields X did not send (avatar, followers...) stay None.
    assert first.users["906948460078698496"] == XUserProfile(
        x_user_id="906948460078698496",
        handle="SnowBotDev",
        name="the SnowBot",
        description=(
            "Home of the @TwitterDev SnowBot... Serving snow reports, snow photos, and snow research links... "
            "Chatbot is currently being remodeled for Twitter APIv2."
        ),
    )
    assert first.users["944480690"].handle == "FloodSocial"


def test_page_of_a_group_conversation():
    [event] = parse_v2_page(fixture_json("v2_get_dm_conversation_events_all_fields.docs.json"))

    assert event.x_event_id == "1580705921830768647"
    assert event.x_conversation_id == "1580705921830768643"
    assert event.is_group is True
    assert event.sender_id == "17200003"
    assert event.created_at == datetime(2022, 10, 13, 23, 43, 54, tzinfo=UTC)
    assert event.text == "hello to you two, this is a new group conversation."


def test_captured_group_photo_message():
    [event] = parse_v2_page(fixture_json("pytwitter_v2_get_dm_events_group_photo.json"))

    assert (event.x_event_id, event.x_conversation_id) == ("1585321444547837956", "1585094756761149440")
    assert event.sender_id == "906948460078698496"
    assert event.created_at == datetime(2022, 10, 26, 17, 24, 21, tzinfo=UTC)
    assert event.text == "Another photo https://t.co/J5KotyeIyd"
    # The capture did not ask for attachments or entities: nothing is invented.
    assert event.attachments == ()
    assert event.entities["urls"] == []


def test_attachment_without_entities_marks_the_trailing_media_link():
    body = fixture_json("pytwitter_v2_get_dm_events_group_photo.json")
    body["data"][0]["attachments"] = {"media_keys": ["3_1585321438000000000"]}

    [event] = parse_v2_page(body)

    photo = DmMedia(media_type="photo", media_key="3_1585321438000000000", media_id="1585321438000000000")
    assert event.attachments == (photo,)
    assert event.entities["urls"] == [
        {
            "start": 14,
            "end": 37,
            "url": "https://t.co/J5KotyeIyd",
            "expanded_url": None,
            "display_url": None,
            "media": True,
        }
    ]


def test_default_fields_are_rejected_because_they_name_no_conversation(caplog):
    body = fixture_json("v2_get_dm_conversation_events_default_fields.docs.json")

    with caplog.at_level(logging.WARNING, logger="twitter_channel.inbound.parsing.payloads"):
        events = parse_v2_page(body)

    assert events == ()
    assert parse_v2_page_detailed(body).rejected == ("data[0].dm_conversation_id: missing",)
    assert "data[0].dm_conversation_id: missing" in caplog.text


@pytest.mark.parametrize(
    "cassette", ["tweepy_v2_manage_and_lookup_dms.cassette.json", "tweepy_v2_manage_and_lookup_dms_async.cassette.json"]
)
def test_recorded_lookup_bodies(cassette):
    gets = [i["response"]["body"] for i in fixture_json(cassette) if i["request"]["method"] == "GET"]
    empty, by_conversation, with_participant = gets

    assert parse_v2_page_detailed(empty) == ParsedPage()
    # Recorded with X's default fields (id, event_type, text): every event lacks its conversation.
    for body in (by_conversation, with_participant):
        page = parse_v2_page_detailed(body)
        assert page.dm_events == ()
        assert page.rejected == ("data[0].dm_conversation_id: missing", "data[1].dm_conversation_id: missing")


def test_recorded_lookup_bodies_with_the_fields_we_request():
    gets = [i["response"]["body"] for i in fixture_json("tweepy_v2_manage_and_lookup_dms.cassette.json")]
    body = gets[4]
    for item, at in zip(body["data"], ("2022-10-28T01:39:13.000Z", "2022-10-28T01:39:12.000Z"), strict=True):
        item.update(dm_conversation_id="750362064426721281-1072250532645998596", created_at=at)
        item["sender_id"] = "1072250532645998596"

    events = parse_v2_page(body)

    assert [(e.x_event_id, e.text) for e in events] == [
        ("1585800613752881156", "Testing 2"),
        ("1585800613253812228", "Testing 1"),
    ]
    assert events[0].one_to_one_counterpart("1072250532645998596") == "750362064426721281"


def test_membership_events():
    join = parse_v2_event(EXAMPLES["ParticipantsJoin"], includes={})
    leave = parse_v2_event(EXAMPLES["ParticipantsLeave"], includes={})
    said = parse_v2_event(EXAMPLES["MessageCreate"], includes={})

    assert (join.event_type, join.participant_ids, join.sender_id) == (
        DmEventType.PARTICIPANTS_JOIN,
        ("944480690",),
        "17200003",
    )
    assert join.created_at == datetime(2022, 10, 19, 20, 45, 58, tzinfo=UTC)
    assert (leave.event_type, leave.participant_ids, leave.sender_id) == (
        DmEventType.PARTICIPANTS_LEAVE,
        ("944480690",),
        None,
    )
    assert leave.x_event_id == "1582838535115067392"
    assert (said.event_type, said.participant_ids, said.text) == (DmEventType.MESSAGE_CREATE, (), "Hi everyone.")
    assert said.created_at == datetime(2022, 10, 19, 20, 58, tzinfo=UTC)
    assert {join.x_conversation_id, leave.x_conversation_id, said.x_conversation_id} == {"1578398451921985538"}


def test_membership_event_without_participants_is_refused():
    raw = {**EXAMPLES["ParticipantsLeave"]}
    del raw["participant_ids"]

    with pytest.raises(PayloadError) as error:
        parse_v2_event(raw, includes={})

    assert str(error.value) == "participant_ids: missing (ParticipantsLeave lists who joined or left)"


def test_profiles_of_members_come_from_includes():
    includes = {
        "users": [
            {"id": "944480690", "username": "FloodSocial", "public_metrics": {"followers_count": 1200}},
            {"id": "17200003", "username": "inviter", "profile_image_url": "https://pbs.twimg.com/p.jpg"},
            {"id": "1", "username": "someone_else"},
        ]
    }

    join = parse_v2_event(EXAMPLES["ParticipantsJoin"], includes=includes)

    assert sorted(join.users) == ["17200003", "944480690"]
    assert join.users["944480690"].followers_count == 1200
    assert join.users["17200003"].avatar_url == "https://pbs.twimg.com/p.jpg"
    assert join.users["17200003"].followers_count is None


def test_docs_attachment_fragment_with_an_unexpanded_key():
    fragment = fixture_json("v2_dm_event_attachments_fragment.docs.json")

    event = parse_v2_event(message(**fragment), includes={})

    # The docs fragment says 5_ where its own text says the upload was a photo (3_): the type is not guessed.
    assert event.attachments == (
        DmMedia(media_type="unknown", media_key="5_1583157113245011970", media_id="1583157113245011970"),
    )


def test_attachment_resolved_from_includes_media():
    includes = {
        "media": [
            {
                "media_key": "7_1583157113245011970",
                "type": "video",
                "preview_image_url": "https://pbs.twimg.com/dm_video_thumb/1/pu/img/a.jpg",
                "width": 1280,
                "height": 720,
                "duration_ms": 4500,
                "variants": [
                    {"content_type": "application/x-mpegURL", "url": "https://video.twimg.com/dm_video/1/pl/a.m3u8"},
                    {"bit_rate": 256000, "content_type": "video/mp4", "url": "https://video.twimg.com/dm_video/1/low.mp4"},
                    {"bit_rate": 2176000, "content_type": "video/mp4", "url": "https://video.twimg.com/dm_video/1/hi.mp4"},
                ],
            }
        ]
    }  # fmt: skip

    event = parse_v2_event(message(attachments={"media_keys": ["7_1583157113245011970"]}), includes=includes)

    [video] = event.attachments
    assert video.media_type == "video"
    assert video.url == video.download_url == "https://video.twimg.com/dm_video/1/hi.mp4"
    assert video.preview_url == "https://pbs.twimg.com/dm_video_thumb/1/pu/img/a.jpg"
    assert (video.width, video.height, video.duration_ms) == (1280, 720, 4500)
    assert video.variants[0] == MediaVariant(
        None, "application/x-mpegURL", "https://video.twimg.com/dm_video/1/pl/a.m3u8"
    )
    assert video.variants[2].bitrate == 2176000


def test_referenced_tweets_and_the_newer_referenced_posts():
    fragment = fixture_json("v2_dm_event_referenced_tweets_fragment.docs.json")

    old = parse_v2_event(message(**fragment), includes={})
    posts = [{"id": "1580559079470145536"}, {"id": "7"}]
    both = parse_v2_event(message(**fragment, referenced_posts=posts), includes={})

    assert old.referenced_post_ids == ("1580559079470145536",)
    assert both.referenced_post_ids == ("1580559079470145536", "7")


def test_entities_object_and_flattened_lists_give_the_same_result():
    text = "See https://t.co/abc #help @Acme $TWTR"
    urls = [
        {
            "start": 4,
            "end": 20,
            "url": "https://t.co/abc",
            "expanded_url": "https://acme.example/help",
            "display_url": "acme.example/help",
        }
    ]  # noqa: E501
    lists = {
        "urls": urls,
        "hashtags": [{"start": 21, "end": 26, "tag": "help"}],
        "mentions": [{"start": 27, "end": 32, "username": "Acme", "id": "2244994945"}],
        "cashtags": [{"start": 33, "end": 38, "tag": "TWTR"}],
    }
    expected = {
        "urls": [{**urls[0], "media": False}],
        "hashtags": [{"start": 21, "end": 26, "tag": "help"}],
        "mentions": [{"start": 27, "end": 32, "username": "Acme", "id": "2244994945"}],
        "cashtags": [{"start": 33, "end": 38, "tag": "TWTR"}],
    }

    nested = parse_v2_event(message(text=text, entities=lists), includes={})
    flat = parse_v2_event(message(text=text, **lists), includes={})
    preferred = parse_v2_event(message(text=text, entities=lists, urls=[]), includes={})

    assert nested.entities == flat.entities == preferred.entities == expected
    assert text[21:26] == "#help"


def test_url_entity_with_a_media_key_is_the_media_link():
    entities = {"urls": [{"start": 0, "end": 23, "url": "https://t.co/J5KotyeIyd", "media_key": "3_1"}]}

    event = parse_v2_event(message(text="https://t.co/J5KotyeIyd", entities=entities), includes={})

    assert event.entities["urls"][0]["media"] is True


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"dm_conversation_id": None}, "dm_conversation_id: expected a string, got null"),
        (
            {"dm_conversation_id": "abc-def"},
            "dm_conversation_id: expected a conversation id ('<id>-<id>' or '<id>'), got 'abc-def'",
        ),  # noqa: E501
        ({"sender_id": "@jack"}, "sender_id: expected a numeric id, got '@jack'"),
        ({"id": "1582838499983564806a"}, "id: expected a numeric id, got '1582838499983564806a'"),
        ({"id": "²"}, "id: expected a numeric id, got '²'"),
        ({"sender_id": None}, "sender_id: missing"),
        ({"created_at": "2022-10-19T20:58:00"}, "created_at: time has no zone: '2022-10-19T20:58:00'"),
        ({"created_at": "yesterday"}, "created_at: expected an ISO 8601 time, got 'yesterday'"),
        ({"event_type": "MessageEdit"}, "event_type: unknown event type 'MessageEdit'"),
        (
            {"attachments": {"media_keys": ["photo"]}},
            "attachments.media_keys[0]: expected a media key '<type>_<id>', got 'photo'",
        ),  # noqa: E501
        ({"referenced_tweets": [{"id": 1}]}, "referenced_tweets[0].id: expected a string, got a number"),
    ],
)
def test_malformed_event_raises_with_the_path(changes, error):
    with pytest.raises(PayloadError) as raised:
        parse_v2_event(message(**changes), includes={})

    assert str(raised.value) == error


def test_missing_conversation_id_raises():
    raw = message()
    del raw["dm_conversation_id"]

    with pytest.raises(PayloadError, match=r"^dm_conversation_id: missing$"):
        parse_v2_event(raw, includes={})


def test_page_keeps_good_events_and_reports_the_bad_one():
    body = {"data": [message(id="3"), message(id="2", sender_id="x"), message(id="1")], "meta": {"result_count": 3}}

    page = parse_v2_page_detailed(body)

    assert [e.x_event_id for e in page.dm_events] == ["3", "1"]
    assert page.rejected == ("data[1].sender_id: expected a numeric id, got 'x'",)


def test_page_ignores_unknown_event_types():
    body = {"data": [message(event_type="MessageReaction"), message()]}

    page = parse_v2_page_detailed(body)

    assert page.ignored == ("dm_events:MessageReaction",)
    assert [e.x_event_id for e in page.dm_events] == ["1582838499983564806"]


def test_single_event_body():
    assert [e.x_event_id for e in parse_v2_page({"data": message()})] == ["1582838499983564806"]


def test_malformed_includes_user_is_left_out():
    body = {"data": [message()], "includes": {"users": [{"username": "no_id"}, {"id": "944480690", "name": "API"}]}}

    page = parse_v2_page_detailed(body)

    assert page.rejected == ("includes.users[0].id: missing",)
    assert page.dm_events[0].users["944480690"].name == "API"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], "expected an object, got a list"),
        ({"data": "nope"}, "data: expected a list, got a string"),
        ({"data": [], "includes": []}, "includes: expected an object, got a list"),
        ({"data": [], "includes": {"media": {}}}, "includes.media: expected a list, got an object"),
    ],
)
def test_malformed_page_raises(body, error):
    with pytest.raises(PayloadError) as raised:
        parse_v2_page(body)

    assert str(raised.value) == error


# --- the reader XClient's lookups are given (poll, backfill, the reply lookup): each event read once ----------


def test_a_lookup_page_is_read_for_the_inbox_with_what_paging_needs():
    body = {
        "data": [message(id="3"), message(id="2", sender_id="x"), message(event_type="MessageReaction")],
        "meta": {"result_count": 3, "next_token": "NEXT"},
    }
    rate = RateLimit(limit=15, remaining=4)

    page = read_lookup_page(body, rate)

    assert [e.x_event_id for e in page.dm_events] == ["3"]
    assert page.rejected == ("data[1].sender_id: expected a numeric id, got 'x'",)
    assert page.ignored == ("dm_events:MessageReaction",)
    assert (page.listed, page.result_count, page.next_token, page.rate_limit) == (3, 3, "NEXT", rate)


@pytest.mark.parametrize(
    ("body", "single", "error"),
    [
        ({"data": message()}, False, "data: expected a list, got an object"),
        ({"includes": {}}, False, "the page has none of `data`, `meta` or `errors`"),
        ({"data": [message()]}, True, "data: expected an object, got a list"),
        ({"data": [], "includes": None}, False, "includes: expected an object, got null"),
    ],
)
def test_what_is_not_a_lookup_page_raises_with_the_path(body, single, error):
    with pytest.raises(PayloadError) as raised:
        read_lookup_page(body, RateLimit(), single=single)

    assert str(raised.value) == error


def test_the_client_reports_what_is_not_a_page_as_malformed(rsps):
    add(rsps, "GET", "/2/dm_events", {"data": message(), "meta": {"result_count": 1}})

    with pytest.raises(MalformedResponse) as raised:
        make_client().dm_events_page(read=read_lookup_page)

    assert str(raised.value) == (
        "GET /2/dm_events: 200 with a body X does not document: data: expected a list, got an object"
    )


def test_paging_goes_on_past_a_page_whose_every_event_was_left_out(rsps):
    broken = message(id="2", dm_conversation_id=None)
    add(rsps, "GET", "/2/dm_events", {"data": [broken], "meta": {"result_count": 1, "next_token": "NEXT"}})
    add(rsps, "GET", "/2/dm_events", {"data": [message(id="1")], "meta": {"result_count": 1}})

    first, second = make_client().dm_events_pages(read=read_lookup_page)

    assert (first.dm_events, first.rejected) == ((), ("data[0].dm_conversation_id: expected a string, got null",))
    assert [e.x_event_id for e in second.dm_events] == ["1"]
