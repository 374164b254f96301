"""Account Activity ``user_event`` bodies -> ``ParsedDelivery.revocations``: a user revoked our app's access."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.xsandbox import fixture_json
from twitter_channel.inbound.parsing.payloads import AppRevocation, ParsedDelivery, PayloadError, parse_webhook_payload

CUSTOMER = "3001969357"


def revoke(**fields: object) -> dict:
    body = {
        "date_time": "2018-05-24T09:48:12+00:00",
        "target": {"app_id": "13090192"},
        "source": {"user_id": "63046977"},
    }
    body.update(fields)
    return body


def message(event_id: str) -> dict:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": "1516403560557",
        "message_create": {
            "target": {"recipient_id": "4337869213"},
            "sender_id": CUSTOMER,
            "message_data": {"text": "still here", "entities": {"hashtags": [], "user_mentions": [], "urls": []}},
        },
    }


def test_the_documented_revoke_is_one_revocation_with_user_app_and_time():
    # given
    payload = fixture_json("aaa_user_event_revoke.docs.json")

    # when
    delivery = parse_webhook_payload(payload)

    # then
    assert delivery == ParsedDelivery(
        for_user_id=None,
        revocations=(
            AppRevocation(
                x_user_id="63046977", app_id="13090192", revoked_at=datetime(2018, 5, 24, 9, 48, 12, tzinfo=UTC)
            ),
        ),
    )


def test_a_revoke_time_in_another_zone_is_read_in_utc_and_a_missing_target_leaves_the_app_unknown():
    body = {"user_event": {"revoke": {"date_time": "2018-05-24T11:48:12+02:00", "source": {"user_id": "63046977"}}}}

    [revocation] = parse_webhook_payload(body).revocations

    assert revocation == AppRevocation(
        x_user_id="63046977", app_id=None, revoked_at=datetime(2018, 5, 24, 9, 48, 12, tzinfo=UTC)
    )
    assert revocation.revoked_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("bad_revoke", "problem"),
    [
        (revoke(source={}), "user_event.revoke.source.user_id: missing"),
        (
            revoke(source={"user_id": "someone"}),
            "user_event.revoke.source.user_id: expected a numeric id, got 'someone'",
        ),
        (revoke(source=None), "user_event.revoke.source: expected a value, got null"),
        (revoke(date_time="yesterday"), "user_event.revoke.date_time: expected an ISO 8601 time, got 'yesterday'"),
        (
            revoke(date_time="2018-05-24T09:48:12"),
            "user_event.revoke.date_time: time has no zone: '2018-05-24T09:48:12'",
        ),
        (revoke(date_time=1527155292), "user_event.revoke.date_time: expected a string, got a number"),
        (revoke(target={"app_id": 13090192}), "user_event.revoke.target.app_id: expected a string, got a number"),
        (revoke(target=[]), "user_event.revoke.target: expected an object, got a list"),
        ([], "user_event.revoke: expected an object, got a list"),
    ],
)
def test_a_malformed_revoke_is_rejected_with_its_path_and_nothing_else_is_lost(bad_revoke: object, problem: str):
    # given: a revoke X would not send, next to other things a body can carry
    body = {
        "for_user_id": "4337869213",
        "direct_message_events": [message("954491830116155396")],
        "user_event": {"revoke": bad_revoke, "follow": {}},
    }

    # when
    delivery = parse_webhook_payload(body)

    # then
    assert delivery.rejected == (problem,)
    assert delivery.revocations == ()
    assert delivery.for_user_id == "4337869213"
    assert [event.x_event_id for event in delivery.dm_events] == ["954491830116155396"]
    assert delivery.ignored == ("user_event:follow",)


@pytest.mark.parametrize("kind", ["follow", "unrevoke", "profile_update"])
def test_a_user_event_of_another_kind_is_ignored_by_name(kind: str):
    delivery = parse_webhook_payload({"user_event": {kind: {"date_time": "2018-05-24T09:48:12+00:00"}}})

    assert delivery == ParsedDelivery(for_user_id=None, ignored=(f"user_event:{kind}",))


def test_an_empty_user_event_is_ignored_rather_than_silently_dropped():
    assert parse_webhook_payload({"user_event": {}}) == ParsedDelivery(for_user_id=None, ignored=("user_event",))


def test_a_user_event_that_is_not_an_object_is_a_body_error_like_any_family_of_the_wrong_type():
    with pytest.raises(PayloadError) as error:
        parse_webhook_payload({"user_event": [revoke()]})

    assert str(error.value) == "user_event: expected an object, got a list"
