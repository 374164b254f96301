"""What the sandbox answers has X's shape: the OpenAPI schemas, and the recorded traffic key for key."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox, fixture_json

OPENAPI = fixture_json("openapi_dm_excerpt.json")
TEMPLATE = re.compile(r"\{[^/]+\}")


def schema_for(method: str, path: str, status: int, content_type: str) -> dict[str, Any]:
    """The response schema the OpenAPI document gives for this call (problems: ``Problem``)."""
    if content_type.startswith("application/problem+json"):
        name = "Problem"
    else:
        for template, operations in OPENAPI["paths"].items():
            if re.fullmatch(TEMPLATE.sub(r"[^/]+", template), path) and method.lower() in operations:
                ref = operations[method.lower()]["responses"][str(status)]["content"]["application/json"]["schema"]
                name = ref["$ref"].rsplit("/", 1)[1]
                break
        else:
            raise AssertionError(f"{method} {path} is not in the OpenAPI excerpt")
    return {"$ref": f"#/components/schemas/{name}", "components": OPENAPI["components"]}


def assert_valid(response, method: str, path: str) -> None:
    schema = schema_for(method, path, response.status_code, response.headers["content-type"])
    errors = sorted(Draft202012Validator(schema).iter_errors(response.json()), key=str)
    assert not errors, f"{method} {path}: {[e.message for e in errors]}"


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what "key for key" compares."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_every_dm_response_validates_against_the_openapi_schema(sandbox: Sandbox):
    # given a business, a customer who wrote first, and a media-less group
    token = sandbox.token()
    sandbox.control(
        "POST", f"users/{CUSTOMER_ID}/messages", {"to": BUSINESS_ID, "text": "See https://x.com/a/status/1"}
    )
    sandbox.control("POST", "posts", {"author": "maria_codes", "text": "Public complaint #late @AcmeSupport"})
    every_field = (
        "dm_event.fields=attachments,created_at,dm_conversation_id,entities,event_type,id,participant_ids,"
        "referenced_tweets,sender_id,text&expansions=sender_id,participant_ids,referenced_tweets.id"
        "&user.fields=created_at,description,location,profile_image_url,protected,public_metrics,verified"
    )
    calls = [
        (201, "POST", f"/2/dm_conversations/with/{CUSTOMER_ID}/messages", {"text": "Hi #support @maria_codes"}),
        (201, "POST", f"/2/dm_conversations/{CUSTOMER_ID}-{BUSINESS_ID}/messages", {"text": "Anything else?"}),
        (201, "POST", "/2/dm_conversations",
         {"conversation_type": "Group", "participant_ids": [CUSTOMER_ID, "944480690"], "message": {"text": "Hi"}}),
        (200, "GET", f"/2/dm_events?{every_field}", None),
        (200, "GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events?{every_field}", None),
        (200, "GET", f"/2/dm_conversations/{CUSTOMER_ID}-{BUSINESS_ID}/dm_events?max_results=1", None),
        (200, "GET", "/2/users/me?user.fields=created_at,public_metrics,verified,protected", None),
        # errors are problems
        (400, "POST", f"/2/dm_conversations/with/{CUSTOMER_ID}/messages", {"text": ""}),
        (400, "GET", "/2/dm_events?max_results=0", None),
    ]  # fmt: skip

    for status, method, path, body in calls:
        # when
        response = sandbox.api(method, path, token, json=body) if body is not None else sandbox.api(method, path, token)
        # then
        assert response.status_code == status, (path, response.text)
        assert_valid(response, method, path.split("?")[0])

    events = sandbox.api("GET", f"/2/dm_events?{every_field}", token).json()
    single = sandbox.api("GET", f"/2/dm_events/{events['data'][0]['id']}?{every_field}", token)
    assert_valid(single, "GET", f"/2/dm_events/{events['data'][0]['id']}")
    assert {"users"} <= set(events["includes"])


def test_auth_errors_validate_as_problems(sandbox: Sandbox):
    for token, status in ((None, 401), ("nonsense", 401), (sandbox.token(scopes="users.read"), 403)):
        response = sandbox.api("GET", "/2/dm_events", token)
        assert response.status_code == status
        assert_valid(response, "GET", "/2/dm_events")


def _replay(sandbox: Sandbox, cassette: list[dict[str, Any]], token: str) -> list[tuple[dict, Any]]:
    pairs = []
    for interaction in cassette:
        request, recorded = interaction["request"], interaction["response"]
        path = re.sub(r"^https://api\.twitter\.com", "", request["uri"])
        response = sandbox.api(request["method"], path, token, json=request.get("body"),
                               headers={"Host": "api.twitter.com"})  # fmt: skip
        pairs.append((recorded, response))
    return pairs


def test_recorded_dm_traffic_replays_key_for_key(sandbox: Sandbox):
    # given the users of tweepy's 2022 recording, with their real ids (the sender is a demo customer)
    for user_id, username in (("750362064426721281", "recipient"), ("145336962", "group_member")):
        sandbox.control("POST", "users", {"id": user_id, "username": username, "name": username})
    token = sandbox.token("priya_builds")
    cassette = fixture_json("tweepy_v2_manage_and_lookup_dms.cassette.json")

    # when the same six calls are made
    pairs = _replay(sandbox, cassette, token)

    # then statuses, headers and bodies have the recorded form
    for recorded, response in pairs:
        assert response.status_code == recorded["status"]["code"]
        for header in recorded["headers"]:
            assert header in response.headers, f"missing header {header}"
            if header.startswith("x-rate-limit"):
                assert response.headers[header].isdigit()
        assert response.headers["content-type"] == recorded["headers"]["content-type"]
        assert response.headers["x-access-level"] == recorded["headers"]["x-access-level"]
        if "location" in recorded["headers"]:
            # the same host the client used (the sandbox itself speaks plain http)
            assert re.fullmatch(r'http://api\.twitter\.com/2/dm_events/"\d+"', response.headers["location"])
        recorded_body = recorded["body"]
        if recorded_body == {"meta": {"result_count": 0}}:
            # X's /2/dm_events was eventually consistent right after sending; the sandbox is not.
            assert set(response.json()) == {"data", "meta"}
            continue
        assert shape(response.json()) == shape(recorded_body)
    posts = [r for _, r in pairs if r.request.method == "POST"]
    assert [int(r.headers["x-rate-limit-remaining"]) for r in posts] == [199, 198, 197]
    one_to_one = pairs[0][1].json()["data"]["dm_conversation_id"]
    assert one_to_one == "750362064426721281-1072250532645998596"


def test_recorded_users_me_replays_key_for_key(sandbox: Sandbox):
    sandbox.control("POST", "users", {"id": "1072250532645998597", "username": "TweepyDev", "name": "Tweepy Testing"})
    cassette = fixture_json("tweepy_v2_get_users_me.cassette.json")

    [(recorded, response)] = _replay(sandbox, cassette, sandbox.token("TweepyDev"))

    assert response.status_code == 200
    assert shape(response.json()) == shape(recorded["body"])
    assert response.json()["data"] == {**recorded["body"]["data"], "id": "1072250532645998597"}
    assert response.headers["x-rate-limit-limit"] == recorded["headers"]["x-rate-limit-limit"] == "75"


@pytest.mark.parametrize(
    "name", ["v2_dm_event_types_examples.docs.json", "pytwitter_v2_get_dm_events_group_photo.json"]
)
def test_recorded_event_bodies_validate_against_the_same_schema(name):
    # the schema check itself accepts what X really sent (so a sandbox pass means something)
    body = fixture_json(name)
    candidate = body if "data" in body else {"data": list(body.values())}
    schema = {"$ref": "#/components/schemas/Get2DmEventsResponse", "components": OPENAPI["components"]}

    assert len(candidate["data"]) >= 1
    assert not list(Draft202012Validator(schema).iter_errors(candidate))
