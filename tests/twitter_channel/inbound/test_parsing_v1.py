"""v1.1 ``direct_messages/events`` bodies: the same message_create objects as Account Activity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inbox.dm_events import DmMedia, MediaVariant
from tests.xsandbox import fixture_json
from twitter_channel.inbound.parsing.payloads import ParsedPage, PayloadError, parse_v1_event, parse_v1_page

GIF_ID = "883600243442544640"
GIF_MP4 = f"https://video.twimg.com/dm_gif/{GIF_ID}/d1DL1Ys9_33-wdtMeAxhwyOpRU84L9wb72Rtb8Bp1pUfDPCeVZ.mp4"
GIF_PREVIEW = f"https://pbs.twimg.com/dm_gif_preview/{GIF_ID}/d1DL1Ys9_33-wdtMeAxhwyOpRU84L9wb72Rtb8Bp1pUfDPCeVZ.jpg"
PHOTO = "https://ton.twitter.com/1.1/ton/data/dm/883598751604117507/883598736911413248/4gAEDFnt.jpg"


@pytest.fixture
def page() -> ParsedPage:
    return parse_v1_page(fixture_json("v1_get_dm_events_list_with_media.pingviini.json"))


def test_every_event_of_a_list_is_read_in_x_order(page: ParsedPage):
    assert page.rejected == () and page.ignored == ()
    assert [(e.x_event_id, e.sender_id, e.x_conversation_id) for e in page.dm_events] == [
        ("883600253898960899", "14320917", "14320917-19210452"),
        ("883599864650715142", "19210452", "14320917-19210452"),
        ("883598751604117507", "14320917", "14320917-19210452"),
        ("882247319575506947", "19210452", "19210452-436493867"),
        ("881949723577470979", "19210452", "14367815-19210452"),
    ]
    assert page.dm_events[0].created_at == datetime(2017, 7, 8, 8, 14, 51, 685000, tzinfo=UTC)
    assert page.dm_events[4].created_at == datetime(2017, 7, 3, 18, 56, 14, 591000, tzinfo=UTC)


def test_gif_attachment_has_its_mp4_preview_and_size(page: ParsedPage):
    gif = page.dm_events[0]

    assert gif.text == " https://t.co/8tfLrxjDwD"
    assert gif.attachments == (
        DmMedia(
            media_type="animated_gif",
            media_id=GIF_ID,
            url=GIF_MP4,
            preview_url=GIF_PREVIEW,
            download_url=GIF_MP4,
            variants=(MediaVariant(bitrate=0, content_type="video/mp4", url=GIF_MP4),),
            width=300,
            height=160,
        ),
    )
    assert gif.entities["urls"] == [
        {
            "start": 1,
            "end": 24,
            "url": "https://t.co/8tfLrxjDwD",
            "expanded_url": "https://twitter.com/messages/media/883600253898960899",
            "display_url": "pic.twitter.com/8tfLrxjDwD",
            "media": True,
        }
    ]


def test_photo_attachment_is_the_ton_url_fetched_with_the_account_auth(page: ParsedPage):
    [photo] = page.dm_events[2].attachments

    assert (photo.media_type, photo.media_id) == ("photo", "883598736911413248")
    assert photo.url == photo.preview_url == photo.download_url == PHOTO
    assert (photo.width, photo.height) == (1024, 1820)
    assert photo.variants == ()


def test_source_app_names_come_from_the_apps_map(page: ParsedPage):
    assert [(e.source_app_id, e.source_app_name) for e in page.dm_events] == [
        (None, None),
        ("557701", "Twitter for Mac"),
        (None, None),
        ("268278", "Twitter Web Client"),
        ("557701", "Twitter for Mac"),
    ]


def test_hashtags_and_links_are_normalized_for_display(page: ParsedPage):
    hashtag, link = page.dm_events[3], page.dm_events[4]

    assert hashtag.entities == {
        "urls": [],
        "hashtags": [{"start": 66, "end": 73, "tag": "Tooter"}],
        "mentions": [],
        "cashtags": [],
    }
    assert hashtag.text[66:73] == "#Tooter"
    assert link.text == "https://t.co/XSUg3kvqVl"
    assert link.entities["urls"] == [
        {
            "start": 0,
            "end": 23,
            "url": "https://t.co/XSUg3kvqVl",
            "expanded_url": "http://www.youngmeninitiative.net/en/?page=42&kat=1&vijest=428",
            "display_url": "youngmeninitiative.net/en/?page=42&ka…",
            "media": False,
        }
    ]
    assert link.attachments == ()


def test_mentions_and_symbols_are_normalized():
    event = fixture_json("v1_get_dm_events_list_with_media.pingviini.json")["events"][1]
    event["message_create"]["message_data"] = {
        "text": "@jack buy $TWTR",
        "entities": {
            "user_mentions": [{"screen_name": "jack", "name": "jack", "id": 12, "id_str": "12", "indices": [0, 5]}],
            "symbols": [{"text": "TWTR", "indices": [10, 15]}],
        },
    }

    parsed = parse_v1_event(event)

    assert parsed.entities["mentions"] == [{"start": 0, "end": 5, "username": "jack", "id": "12"}]
    assert parsed.entities["cashtags"] == [{"start": 10, "end": 15, "tag": "TWTR"}]


def test_empty_list_with_a_cursor_has_no_events():
    [interaction] = fixture_json("tweepy_v1_list_dm_events.cassette.json")

    assert parse_v1_page(interaction["response"]["body"]) == ParsedPage()


def test_sent_event_response_is_a_self_conversation():
    send, _delete = fixture_json("tweepy_v1_send_and_delete_dm.cassette.json")

    [event] = parse_v1_page(send["response"]["body"]).dm_events

    assert event.x_event_id == "1150493286110552068"
    assert event.x_conversation_id == "1072250532645998596-1072250532645998596"
    assert event.sender_id == "1072250532645998596"
    assert event.created_at == datetime(2019, 7, 14, 19, 52, 29, 197000, tzinfo=UTC)
    assert event.text == "test message"
    assert event.is_group is False


def test_the_send_request_is_not_an_event_and_says_why():
    send, _delete = fixture_json("tweepy_v1_send_and_delete_dm.cassette.json")

    page = parse_v1_page(send["request"]["body"])

    assert page.dm_events == ()
    assert page.rejected == ("event.id: missing",)


def test_parse_v1_event_uses_the_apps_and_users_maps():
    body = fixture_json("aaa_direct_message_events.docs.json")

    event = parse_v1_event(body["direct_message_events"][0], users=body["users"], apps=body["apps"])

    assert event.source_app_name == "FuriousCamperTestApp1"
    assert event.users["3001969357"].handle == "furiouscamper"


def test_parse_v1_event_raises_with_the_path():
    event = fixture_json("aaa_direct_message_events.docs.json")["direct_message_events"][0]
    event["message_create"]["message_data"]["attachment"] = {"type": "media", "media": {"type": "photo"}}

    with pytest.raises(PayloadError) as error:
        parse_v1_event(event)

    assert str(error.value) == "message_create.message_data.attachment.media.id_str: missing"
