"""Webhook bodies (Account Activity and X Activity) -> normalized events, against X's recorded payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from inbox.dm_events import DmEventType, ReadEvent, TypingEvent, XUserProfile
from inbox.models import Message
from inbox.services.ingest import dm_event_ingest
from tests.factories import make_inbox
from tests.xsandbox import fixture_json
from twitter_channel.inbound.parsing.payloads import ParsedDelivery, PayloadError, parse_webhook_payload

JORDAN = XUserProfile(
    x_user_id="3001969357",
    handle="furiouscamper",
    name="Jordan Brinks",
    avatar_url="https://pbs.twimg.com/profile_images/851526626785480705/cW4WTi7C_normal.jpg",
    description="Alter Ego - X PE opinions-are-my-own",
    location="Boulder, CO",
    followers_count=22,
    verified=False,
    protected=False,
)
NO_ENTITIES = {"urls": [], "hashtags": [], "mentions": [], "cashtags": []}


def aaa_message(event_id: str, text: str, *, sender: str = "3001969357", recipient: str = "4337869213") -> dict:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": "1516403560557",
        "message_create": {
            "target": {"recipient_id": recipient},
            "sender_id": sender,
            "message_data": {"text": text, "entities": {"hashtags": [], "user_mentions": [], "urls": []}},
        },
    }


def test_account_activity_message_is_read_with_conversation_time_app_and_profiles():
    # given
    payload = fixture_json("aaa_direct_message_events.docs.json")

    # when
    delivery = parse_webhook_payload(payload)

    # then
    assert delivery.for_user_id == "4337869213"
    assert (delivery.typing, delivery.reads, delivery.ignored, delivery.rejected) == ((), (), (), ())
    [event] = delivery.dm_events
    assert event.x_event_id == "954491830116155396"
    assert event.event_type == DmEventType.MESSAGE_CREATE
    assert event.x_conversation_id == "3001969357-4337869213"
    assert event.created_at == datetime(2018, 1, 19, 23, 12, 40, 557000, tzinfo=UTC)
    assert event.sender_id == "3001969357"
    assert event.text == "Hello World!"
    assert event.entities == NO_ENTITIES
    assert event.attachments == ()
    assert event.quick_reply_response is None
    assert (event.source_app_id, event.source_app_name) == ("13090192", "FuriousCamperTestApp1")
    assert (event.initiated_via_post_id, event.welcome_message_id) == (None, None)
    assert event.users["3001969357"] == JORDAN
    # The recipient's profile has no description: None ("not in this payload"), not "".
    assert event.users["4337869213"] == XUserProfile(
        x_user_id="4337869213",
        handle="Harris_0ff",
        name="Harrison Test",
        avatar_url="https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png",
        description=None,
        location="Burlington, MA",
        followers_count=8,
        verified=False,
        protected=False,
    )


def test_typing_indicator_becomes_a_typing_event():
    delivery = parse_webhook_payload(fixture_json("aaa_direct_message_indicate_typing_events.docs.json"))

    assert delivery.dm_events == () and delivery.reads == () and delivery.rejected == ()
    [typing] = delivery.typing
    assert typing == TypingEvent(
        x_conversation_id="3001969357-3284025577",
        sender_id="3284025577",
        created_at=datetime(2018, 2, 8, 21, 59, 43, 443000, tzinfo=UTC),
        users=typing.users,
    )
    assert sorted(typing.users) == ["3001969357", "3284025577"]
    assert typing.users["3284025577"].handle == "bogusbogart"
    assert typing.users["3284025577"].protected is True
    assert typing.users["3284025577"].location is None


def test_read_receipt_becomes_a_read_event():
    delivery = parse_webhook_payload(fixture_json("aaa_direct_message_mark_read_events.docs.json"))

    assert delivery.for_user_id == "4337869213"
    [read] = delivery.reads
    assert read == ReadEvent(
        x_conversation_id="199566737-3001969357",
        reader_id="199566737",
        last_read_event_id="963085315333238788",
        created_at=datetime(2018, 2, 12, 16, 20, 44, 662000, tzinfo=UTC),
        users=read.users,
    )
    assert read.users["199566737"].handle == "LeBraat"
    assert read.users["3001969357"].followers_count == 23


def _koukoku_with_numeric_ids() -> dict:
    """The capture's author replaced the ids with words; put numbers back (real ids are numeric)."""
    text = json.dumps(fixture_json("aaa_quick_reply_response.koukoku.json"))
    for word, number in (('"test_account_user"', '"1001"'), ('"account_user"', '"1001"'), ('"test_account"', '"2002"')):
        text = text.replace(word, number)
    return json.loads(text)


def test_quick_reply_answer_keeps_its_metadata_and_label_text():
    delivery = parse_webhook_payload(_koukoku_with_numeric_ids())

    assert delivery.rejected == ()
    [event] = delivery.dm_events
    assert event.x_event_id == "1066947669577281540"
    assert event.created_at == datetime(2018, 11, 26, 6, 52, 2, 13000, tzinfo=UTC)
    assert event.text == "aaa"
    assert event.quick_reply_response == {"type": "options", "metadata": "0"}
    assert (event.sender_id, event.x_conversation_id) == ("2002", "1001-2002")
    # Sent from an official client: no source_app_id, so no app to show.
    assert (event.source_app_id, event.source_app_name) == (None, None)
    assert (
        event.users["2002"].avatar_url
        == "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
    )
    assert event.users["2002"].handle == "Test"


def test_anonymised_capture_with_word_ids_is_refused_with_the_path():
    with pytest.raises(PayloadError) as error:
        parse_webhook_payload(fixture_json("aaa_quick_reply_response.koukoku.json"))

    assert str(error.value) == "for_user_id: expected a numeric id, got 'test_account_user'"


def test_other_event_families_are_ignored_by_name():
    deleted = parse_webhook_payload(fixture_json("aaa_tweet_delete_events.docs.json"))
    revoked = parse_webhook_payload(fixture_json("aaa_user_event_revoke.docs.json"))
    replay = parse_webhook_payload(fixture_json("v2_aaa_replay_job_complete_event.docs.json"))

    assert deleted == ParsedDelivery(for_user_id="930524282358325248", ignored=("tweet_delete_events",))
    assert revoked.revocations and not revoked.ignored  # read, not ignored (test_parsing_revoke.py)
    assert replay == ParsedDelivery(for_user_id=None, ignored=("replay_job_status",))


def test_x_activity_dm_received_reads_the_v2_users_map():
    delivery = parse_webhook_payload(fixture_json("xaa_dm_received.docs.json"))

    assert delivery.for_user_id == "1111111111111111111"
    assert delivery.rejected == ()
    [event] = delivery.dm_events
    assert event.x_event_id == "2080765901528535096"
    assert event.x_conversation_id == "1111111111111111111-2222222222222222222"
    assert event.created_at == datetime(2026, 7, 24, 21, 23, 44, 372000, tzinfo=UTC)
    assert (event.sender_id, event.text) == ("2222222222222222222", "hello!")
    # X sent an empty description (carried, so "") and no location (not carried, so None).
    assert event.users["2222222222222222222"] == XUserProfile(
        x_user_id="2222222222222222222",
        handle="OtherUser",
        name="OtherUser",
        avatar_url="https://pbs.twimg.com/profile_images/0000000000000000001/example_normal.jpg",
        description="",
        location=None,
        followers_count=97,
        verified=False,
        protected=False,
    )
    assert event.users["1111111111111111111"].followers_count == 5502
    assert event.users["1111111111111111111"].verified is True


def test_x_activity_dm_sent_orders_the_conversation_id_numerically():
    delivery = parse_webhook_payload(fixture_json("xaa_dm_sent.docs.json"))

    [event] = delivery.dm_events
    # 2244994945 < 1111111111111111111 as numbers, though not as text.
    assert event.x_conversation_id == "2244994945-1111111111111111111"
    assert event.sender_id == delivery.for_user_id == "1111111111111111111"
    assert event.text == "Thanks for the update!"
    assert event.created_at == datetime(2026, 7, 24, 21, 15, 50, 704000, tzinfo=UTC)
    assert event.users["2244994945"].handle == "XDevelopers"
    assert event.users["2244994945"].location == "127.0.0.1"


def test_x_activity_typing_and_read_envelopes_use_the_account_activity_families():
    typing_body = fixture_json("aaa_direct_message_indicate_typing_events.docs.json")
    read_body = fixture_json("aaa_direct_message_mark_read_events.docs.json")
    del typing_body["for_user_id"], read_body["for_user_id"]
    typing_body["users"] = {"3284025577": {"data": {"id": "3284025577", "username": "bogusbogart"}}}

    def envelope(event_type: str, payload: dict) -> dict:
        return {"data": {"event_type": event_type, "filter": {"user_id": "3001969357"}, "payload": payload}}

    typing = parse_webhook_payload(envelope("dm.indicate_typing", typing_body))
    read = parse_webhook_payload(envelope("dm.read", read_body))

    assert typing.for_user_id == "3001969357"
    assert [(t.sender_id, t.x_conversation_id) for t in typing.typing] == [("3284025577", "3001969357-3284025577")]
    assert typing.typing[0].users["3284025577"].handle == "bogusbogart"
    assert [(r.reader_id, r.last_read_event_id) for r in read.reads] == [("199566737", "963085315333238788")]


def test_x_activity_events_other_than_dms_are_ignored():
    body = {"data": {"event_type": "profile.update.bio", "filter": {"user_id": "2244994945"}, "payload": {}}}

    assert parse_webhook_payload(body) == ParsedDelivery(for_user_id="2244994945", ignored=("profile.update.bio",))


def test_every_event_is_read_and_a_malformed_one_is_rejected_with_its_path():
    # given: three events, the middle one without its sender
    payload = fixture_json("aaa_direct_message_events.docs.json")
    broken = aaa_message("954491830116155397", "second")
    del broken["message_create"]["sender_id"]
    payload["direct_message_events"] = [
        aaa_message("954491830116155396", "first"),
        broken,
        aaa_message("954491830116155398", "third", sender="4337869213", recipient="3001969357"),
    ]

    # when
    delivery = parse_webhook_payload(payload)

    # then
    assert [(e.x_event_id, e.text, e.sender_id) for e in delivery.dm_events] == [
        ("954491830116155396", "first", "3001969357"),
        ("954491830116155398", "third", "4337869213"),
    ]
    assert delivery.rejected == ("direct_message_events[1].message_create.sender_id: missing",)
    assert {e.x_conversation_id for e in delivery.dm_events} == {"3001969357-4337869213"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(created_timestamp="2018-01-19"), "created_timestamp: expected epoch milliseconds"),
        (lambda e: e.update(id="95449183011615539x"), "id: expected a numeric id, got '95449183011615539x'"),
        (lambda e: e["message_create"].update(target={}), "message_create.target.recipient_id: missing"),
        (lambda e: e["message_create"].pop("message_data"), "message_create.message_data: missing"),
        (
            lambda e: e["message_create"]["message_data"]["entities"]["urls"].append({"url": "https://t.co/x"}),
            "message_create.message_data.entities.urls[0].indices: missing",
        ),
    ],
)
def test_malformed_event_messages_name_the_bad_path(change, message):
    payload = fixture_json("aaa_direct_message_events.docs.json")
    change(payload["direct_message_events"][0])

    delivery = parse_webhook_payload(payload)

    assert delivery.dm_events == ()
    [rejected] = delivery.rejected
    assert rejected.startswith(f"direct_message_events[0].{message}")


def test_unknown_message_event_type_is_ignored_not_rejected():
    payload = fixture_json("aaa_direct_message_events.docs.json")
    payload["direct_message_events"].insert(0, {"type": "message_delete", "id": "1"})

    delivery = parse_webhook_payload(payload)

    assert delivery.ignored == ("direct_message_events:message_delete",)
    assert [e.x_event_id for e in delivery.dm_events] == ["954491830116155396"]
    assert delivery.rejected == ()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "expected an object, got a list"),
        ({"for_user_id": "1", "direct_message_events": {}}, "direct_message_events: expected a list, got an object"),
        ({"for_user_id": "1", "users": []}, "users: expected an object, got a list"),
        ({"for_user_id": 4337869213}, "for_user_id: expected a string, got a number"),
        ({"data": {"filter": {}}}, "data.event_type: missing"),
        ({"data": {"event_type": "dm.received"}}, "data.payload: missing"),
    ],
)
def test_malformed_bodies_raise(payload, message):
    with pytest.raises(PayloadError) as error:
        parse_webhook_payload(payload)

    assert str(error.value) == message


def test_a_malformed_profile_is_left_out_and_the_event_kept():
    payload = fixture_json("aaa_direct_message_events.docs.json")
    payload["users"]["3001969357"]["followers_count"] = "22"

    delivery = parse_webhook_payload(payload)

    [event] = delivery.dm_events
    assert sorted(event.users) == ["4337869213"]
    assert delivery.rejected == ("users.3001969357.followers_count: expected an integer, got a string",)


def test_initiated_via_names_the_post_and_welcome_message():
    payload = fixture_json("aaa_direct_message_events.docs.json")
    payload["direct_message_events"][0]["initiated_via"] = {
        "tweet_id": "1578900353814519810",
        "welcome_message_id": "844385345234",
    }

    [event] = parse_webhook_payload(payload).dm_events

    assert event.initiated_via_post_id == "1578900353814519810"
    assert event.welcome_message_id == "844385345234"


def test_media_dm_in_a_webhook_has_its_attachment_and_hidden_link():
    payload = fixture_json("aaa_direct_message_events.docs.json")
    photo = fixture_json("v1_get_dm_events_list_with_media.pingviini.json")["events"][2]
    payload["direct_message_events"] = [photo]

    [event] = parse_webhook_payload(payload).dm_events

    assert event.text == "Ok now it works, but there's something a bit messy https://t.co/7oQEATko4e"
    [media] = event.attachments
    assert media.media_type == "photo"
    assert media.download_url == (
        "https://ton.twitter.com/1.1/ton/data/dm/883598751604117507/883598736911413248/4gAEDFnt.jpg"
    )
    assert event.entities["urls"] == [
        {
            "start": 51,
            "end": 74,
            "url": "https://t.co/7oQEATko4e",
            "expanded_url": "https://twitter.com/messages/media/883598751604117507",
            "display_url": "pic.twitter.com/7oQEATko4e",
            "media": True,
        }
    ]


@pytest.mark.django_db
def test_parsed_webhook_ingests_as_one_inbound_message(published):
    # given
    inbox = make_inbox(x_user_id="4337869213")
    delivery = parse_webhook_payload(fixture_json("aaa_direct_message_events.docs.json"))

    # when
    results = [dm_event_ingest(inbox=inbox, event=event) for event in delivery.dm_events]

    # then
    assert [r.created for r in results] == [True]
    message = Message.objects.get()
    assert message.text == "Hello World!"
    assert message.x_event_id == "954491830116155396"
    assert message.direction == Message.Direction.INBOUND
    assert message.x_created_at == datetime(2018, 1, 19, 23, 12, 40, 557000, tzinfo=UTC)
    conversation = message.conversation
    assert conversation.x_conversation_id == "3001969357-4337869213"
    assert conversation.contact.x_user_id == "3001969357"
    assert conversation.contact.handle == "furiouscamper"
    assert conversation.contact.followers_count == 22
    assert message.sender_contact == conversation.contact


@pytest.mark.django_db
def test_parsed_media_dm_ingests_with_its_attachment(published):
    inbox = make_inbox(x_user_id="19210452")
    gif = fixture_json("v1_get_dm_events_list_with_media.pingviini.json")["events"][0]
    payload = {"for_user_id": "19210452", "direct_message_events": [gif]}

    [event] = parse_webhook_payload(payload).dm_events
    dm_event_ingest(inbox=inbox, event=event)

    message = Message.objects.get()
    [attachment] = message.attachments.all()
    assert attachment.media_type == "animated_gif"
    assert attachment.url == (
        "https://video.twimg.com/dm_gif/883600243442544640/d1DL1Ys9_33-wdtMeAxhwyOpRU84L9wb72Rtb8Bp1pUfDPCeVZ.mp4"
    )
    assert (attachment.width, attachment.height) == (300, 160)
    assert message.entities["urls"][0]["media"] is True
    assert message.conversation.contact.x_user_id == "14320917"
