"""The sandbox's DM endpoints behave, and look, like X's (x-api.md §2–§3, recorded traffic)."""

from __future__ import annotations

import pytest

from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox

JSON = {"Content-Type": "application/json"}


def send(sandbox: Sandbox, token: str, to: str, text: str):
    return sandbox.api("POST", f"/2/dm_conversations/with/{to}/messages", token, json={"text": text})


def test_one_to_one_send_answers_201_with_conversation_and_event_ids(sandbox: Sandbox):
    token = sandbox.token()

    response = send(sandbox, token, CUSTOMER_ID, "Hello María")

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["dm_conversation_id"] == f"{CUSTOMER_ID}-{BUSINESS_ID}"  # low-high by numeric value
    assert data["dm_event_id"].isdigit()
    assert response.headers["location"].endswith(f'/2/dm_events/"{data["dm_event_id"]}"')
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_conversation_ids_sort_numerically_not_as_text(sandbox: Sandbox):
    # 944480690 < 1500000000000000001 numerically, although "9" sorts after "1" as text
    response = send(sandbox, sandbox.token(), "944480690", "hi")

    assert response.json()["data"]["dm_conversation_id"] == f"944480690-{BUSINESS_ID}"


def test_lookup_lists_newest_first_with_default_fields_and_paginates(sandbox: Sandbox):
    token = sandbox.token()
    sent = [send(sandbox, token, CUSTOMER_ID, f"message {i}").json()["data"]["dm_event_id"] for i in range(5)]

    first = sandbox.api("GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events?max_results=3", token).json()
    second = sandbox.api(
        "GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events?max_results=3&pagination_token="
        f"{first['meta']['next_token']}", token).json()  # fmt: skip
    third = sandbox.api(
        "GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events?pagination_token={second['meta']['next_token']}",
        token).json()  # fmt: skip

    assert [e["id"] for e in first["data"] + second["data"]] == sent[::-1]
    assert set(first["data"][0]) == {"id", "event_type", "text"}
    assert first["meta"]["result_count"] == 3 and second["meta"]["result_count"] == 2
    assert third == {"meta": {"result_count": 0}}


def test_fields_and_expansions_fill_includes(sandbox: Sandbox):
    token = sandbox.token()
    sandbox.control("POST", f"users/{CUSTOMER_ID}/messages", {"to": BUSINESS_ID, "text": "Order #4417 is late"})

    body = sandbox.api(
        "GET",
        "/2/dm_events?dm_event.fields=id,text,sender_id,created_at,dm_conversation_id,event_type"
        "&expansions=sender_id&user.fields=username,name,location",
        token,
    ).json()

    event = body["data"][0]
    assert event["sender_id"] == CUSTOMER_ID
    assert event["created_at"].endswith("Z") and event["dm_conversation_id"] == f"{CUSTOMER_ID}-{BUSINESS_ID}"
    assert body["includes"]["users"] == [
        {"id": CUSTOMER_ID, "name": "María Fernández", "username": "maria_codes", "location": "Madrid"}
    ]


def test_group_conversation_create_and_reply(sandbox: Sandbox):
    token = sandbox.token()

    created = sandbox.api(
        "POST",
        "/2/dm_conversations",
        token,
        json={
            "conversation_type": "Group",
            "participant_ids": [CUSTOMER_ID, "944480690"],
            "message": {"text": "Welcome"},
        },
    )
    conversation_id = created.json()["data"]["dm_conversation_id"]
    reply = sandbox.api("POST", f"/2/dm_conversations/{conversation_id}/messages", token, json={"text": "Again"})
    events = sandbox.api("GET", f"/2/dm_conversations/{conversation_id}/dm_events", token).json()["data"]

    assert created.status_code == 201 and reply.status_code == 201
    assert conversation_id.isdigit() and "-" not in conversation_id
    assert [e["event_type"] for e in events] == ["MessageCreate", "MessageCreate", "ParticipantsJoin"]
    assert set(events[-1]["participant_ids"]) == {BUSINESS_ID, CUSTOMER_ID, "944480690"}


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "needs `text` or `attachments`"),
        ({"text": ""}, "non-empty string"),
        ({"text": "hi", "attachments": [{"media_id": "1"}, {"media_id": "2"}]}, "Only one attachment"),
        ({"text": "hi", "colour": "red"}, "Unknown field"),
        ({"text": "x" * 10_001}, "over the max character limit"),
    ],
)
def test_invalid_messages_are_400_problems(sandbox: Sandbox, body, message):
    response = sandbox.api("POST", f"/2/dm_conversations/with/{CUSTOMER_ID}/messages", sandbox.token(), json=body)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Invalid Request"
    assert message in problem["errors"][0]["message"]


def test_recipient_who_refuses_dms_is_a_403(sandbox: Sandbox):
    sandbox.control("POST", "users", {"username": "closed_dms", "name": "Closed", "accepts_dms": False, "id": "42"})

    response = send(sandbox, sandbox.token(), "42", "hello?")

    assert response.status_code == 403
    assert response.json()["detail"] == "You cannot send messages to this user."


def test_unknown_query_parameter_and_bad_max_results_are_400(sandbox: Sandbox):
    token = sandbox.token()

    unknown = sandbox.api("GET", "/2/dm_events?colour=red", token)
    too_many = sandbox.api("GET", "/2/dm_events?max_results=101", token)
    bad_field = sandbox.api("GET", "/2/dm_events?dm_event.fields=mood", token)

    assert [r.status_code for r in (unknown, too_many, bad_field)] == [400, 400, 400]
    assert "is not between 1 and 100" in too_many.json()["errors"][0]["message"]
    assert "[mood]" in bad_field.json()["errors"][0]["message"]


def test_dm_events_keeps_thirty_days(sandbox: Sandbox):
    token = sandbox.token()
    send(sandbox, token, CUSTOMER_ID, "old news")
    sandbox.control("POST", "clock", {"seconds": 31 * 24 * 3600})
    token = sandbox.token()  # the first token expired two hours in

    everything = sandbox.api("GET", "/2/dm_events", token).json()
    conversation = sandbox.api("GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events", token).json()

    assert everything == {"meta": {"result_count": 0}}
    assert conversation["data"][0]["text"] == "old news"


def test_both_x_and_twitter_hosts_are_served(sandbox: Sandbox):
    token = sandbox.token()
    for host in ("api.x.com", "api.twitter.com"):
        response = sandbox.api("GET", "/2/users/me", token, headers={"Host": host})
        assert response.status_code == 200
        assert response.json() == {"data": {"id": BUSINESS_ID, "name": "Acme Support", "username": "AcmeSupport"}}


def test_user_lookup_by_id_and_username(sandbox: Sandbox):
    token = sandbox.token()

    by_id = sandbox.api("GET", f"/2/users/{CUSTOMER_ID}?user.fields=location", token).json()
    by_name = sandbox.api("GET", "/2/users/by/username/MARIA_CODES", token).json()
    missing = sandbox.api("GET", "/2/users/123", token)

    assert by_id["data"]["location"] == "Madrid"
    assert by_name["data"]["id"] == CUSTOMER_ID
    assert missing.status_code == 200 and missing.json()["errors"][0]["title"] == "Not Found Error"


def test_tokens_are_checked(sandbox: Sandbox):
    no_token = sandbox.api("GET", "/2/dm_events", None)
    bad_token = sandbox.api("GET", "/2/dm_events", "nonsense")
    no_dm_scope = sandbox.api("GET", "/2/dm_events", sandbox.token(scopes="tweet.read users.read"))
    app_only = sandbox.api("GET", "/2/dm_events", sandbox.control("GET", "app")["bearer_token"])

    assert (no_token.status_code, bad_token.status_code, no_dm_scope.status_code) == (401, 401, 403)
    assert no_token.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    assert no_dm_scope.json() == {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}
    assert app_only.status_code == 403 and app_only.json()["title"] == "Unsupported Authentication"


def test_expired_token_is_401(sandbox: Sandbox):
    token = sandbox.token()
    sandbox.control("POST", "clock", {"seconds": 2 * 3600 + 1})

    assert sandbox.api("GET", "/2/users/me", token).status_code == 401


def test_control_api_refuses_a_taken_user_id_with_a_clear_400(sandbox: Sandbox):
    import requests

    response = requests.post(f"{sandbox.base_url}/sandbox/api/users", json={"id": CUSTOMER_ID, "username": "x"})

    assert response.status_code == 400
    assert "no other user has" in response.json()["error"]


def test_conversation_with_yourself_is_a_400_not_a_crash(sandbox: Sandbox):
    response = sandbox.api(
        "POST", f"/2/dm_conversations/{BUSINESS_ID}-{BUSINESS_ID}/messages", sandbox.token(), json={"text": "me"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "You cannot send a direct message to yourself."


@pytest.mark.parametrize(
    "body", [{"to": CUSTOMER_ID, "media_id": "999"}, {"conversation_id": "123456789012345678", "text": "hi"}]
)
def test_control_send_as_with_unknown_references_is_a_clear_400(sandbox: Sandbox, body):
    import requests

    response = requests.post(f"{sandbox.base_url}/sandbox/api/users/AcmeSupport/messages", json=body, timeout=10)

    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]
