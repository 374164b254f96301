"""The sandbox's DM endpoints behave, and look, like X's (x-api.md §2–§3, recorded traffic)."""

from __future__ import annotations

import re

import pytest

from tests.sandbox.test_conformance import assert_valid
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox, fixture_json

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


# --- DELETE /2/dm_events/:event_id (x-api.md §2.1) -------------------------------------------------------------


def test_delete_removes_an_own_message_from_the_senders_view_only(sandbox: Sandbox):
    # given a message from the business to María, and her reply
    acme, maria = sandbox.token(), sandbox.token("maria_codes")
    sent = send(sandbox, acme, CUSTOMER_ID, "oops, wrong customer").json()["data"]["dm_event_id"]
    reply = send(sandbox, maria, BUSINESS_ID, "?").json()["data"]["dm_event_id"]

    # when the business deletes its message
    deleted = sandbox.api("DELETE", f"/2/dm_events/{sent}", acme)

    # then X's DeleteDmResponse, and the message is gone for the business but not for María
    assert deleted.status_code == 200
    assert deleted.json() == {"data": {"deleted": True}}
    assert_valid(deleted, "DELETE", f"/2/dm_events/{sent}")
    thread = f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events"
    assert [e["id"] for e in sandbox.api("GET", thread, acme).json()["data"]] == [reply]
    assert [e["id"] for e in sandbox.api("GET", "/2/dm_events", acme).json()["data"]] == [reply]
    assert sandbox.api("GET", f"/2/dm_events/{sent}", acme).status_code == 404
    theirs = sandbox.api("GET", f"/2/dm_conversations/with/{BUSINESS_ID}/dm_events", maria).json()["data"]
    assert [e["id"] for e in theirs] == [reply, sent]
    assert sandbox.api("GET", f"/2/dm_events/{sent}", maria).json()["data"]["text"] == "oops, wrong customer"
    # and deleting it again finds nothing to delete
    assert sandbox.api("DELETE", f"/2/dm_events/{sent}", acme).status_code == 404


def test_delete_refuses_other_peoples_messages_and_unknown_events(sandbox: Sandbox):
    acme = sandbox.token()
    theirs = sandbox.control("POST", f"users/{CUSTOMER_ID}/messages", {"to": BUSINESS_ID, "text": "mine"})

    other = sandbox.api("DELETE", f"/2/dm_events/{theirs['dm_event_id']}", acme)
    unknown = sandbox.api("DELETE", "/2/dm_events/123456789", acme)
    not_an_id = sandbox.api("DELETE", "/2/dm_events/abc", acme)

    assert (other.status_code, unknown.status_code, not_an_id.status_code) == (403, 404, 400)
    for response in (other, unknown, not_an_id):
        assert response.headers["content-type"] == "application/problem+json"
        assert_valid(response, "DELETE", "/2/dm_events/1")
    assert other.json()["detail"] == "You can only delete direct messages you sent."
    assert unknown.json()["type"] == "https://api.twitter.com/2/problems/resource-not-found"
    everything = sandbox.api("GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events", acme).json()["data"]
    assert [e["id"] for e in everything] == [theirs["dm_event_id"]]


def test_delete_needs_dm_read_and_dm_write_only(sandbox: Sandbox):
    sent = send(sandbox, sandbox.token(), CUSTOMER_ID, "hi").json()["data"]["dm_event_id"]

    read_only = sandbox.api("DELETE", f"/2/dm_events/{sent}", sandbox.token(scopes="dm.read tweet.read users.read"))
    enough = sandbox.api("DELETE", f"/2/dm_events/{sent}", sandbox.token(scopes="dm.read dm.write"))

    assert read_only.status_code == 403
    assert enough.status_code == 200


def test_dm_event_path_answers_other_methods_with_405(sandbox: Sandbox):
    response = sandbox.api("PUT", "/2/dm_events/123", sandbox.token())

    assert response.status_code == 405
    assert response.json()["detail"] == "Use GET or DELETE."


# --- fields, entities and usernames as X has them ---------------------------------------------------------------


def _openapi_enum(parameter: str) -> list[str]:
    return fixture_json("openapi_dm_excerpt.json")["components"]["parameters"][parameter]["schema"]["items"]["enum"]


def test_every_openapi_user_and_tweet_field_is_accepted(sandbox: Sandbox):
    # given a DM that links to a public post
    token = sandbox.token()
    post = sandbox.control("POST", "posts", {"author": "maria_codes", "text": "Still waiting #late"})
    sandbox.control("POST", f"users/{CUSTOMER_ID}/messages",
                    {"to": BUSINESS_ID, "text": f"See https://x.com/maria_codes/status/{post['id']}"})  # fmt: skip
    user_fields = ",".join(_openapi_enum("UserFieldsParameter"))
    tweet_fields = ",".join(_openapi_enum("TweetFieldsParameter"))

    # when asking for every user and tweet field OA 2.159 lists
    events = sandbox.api(
        "GET", f"/2/dm_events?dm_event.fields=sender_id,referenced_tweets&expansions=sender_id,referenced_tweets.id"
        f"&user.fields={user_fields}&tweet.fields={tweet_fields}", token)  # fmt: skip
    me = sandbox.api("GET", f"/2/users/me?user.fields={user_fields}&tweet.fields={tweet_fields}", token)
    by_name = sandbox.api("GET", f"/2/users/by/username/maria_codes?expansions=affiliation.user_id&user.fields="
                          f"{user_fields}", token)  # fmt: skip

    # then X's shapes, with what the sandbox models and without what it does not
    assert (events.status_code, me.status_code, by_name.status_code) == (200, 200, 200)
    assert_valid(events, "GET", "/2/dm_events")
    assert_valid(me, "GET", "/2/users/me")
    tweet = events.json()["includes"]["tweets"][0]
    assert tweet["edit_history_tweet_ids"] == [post["id"]] and tweet["author_id"] == CUSTOMER_ID
    assert tweet["entities"]["hashtags"] == [{"start": 14, "end": 19, "tag": "late"}]
    maria = by_name.json()["data"]
    assert maria["most_recent_tweet_id"] == post["id"] and maria["verified_type"] == "none"
    assert "subscription_type" not in maria and "confirmed_email" not in maria


def test_edit_history_is_a_default_tweet_field_as_recorded(sandbox: Sandbox):
    token = sandbox.token()
    post = sandbox.control("POST", "posts", {"author": "maria_codes", "text": "A post"})
    sandbox.control("POST", f"users/{CUSTOMER_ID}/messages",
                    {"to": BUSINESS_ID, "text": f"https://twitter.com/maria_codes/status/{post['id']}"})  # fmt: skip

    body = sandbox.api("GET", "/2/dm_events?expansions=referenced_tweets.id", token).json()

    assert body["includes"]["tweets"] == [{"id": post["id"], "text": "A post", "edit_history_tweet_ids": [post["id"]]}]


def test_hashtags_need_a_letter(sandbox: Sandbox):
    token = sandbox.token()
    sandbox.control("POST", f"users/{CUSTOMER_ID}/messages", {"to": BUSINESS_ID, "text": "Order #4417 is #late, #2b"})

    event = sandbox.api("GET", "/2/dm_events?dm_event.fields=entities", token).json()["data"][0]

    assert [h["tag"] for h in event["entities"]["hashtags"]] == ["late", "2b"]


@pytest.mark.parametrize("username", ["lena.k", "a" * 16, "with space", "ñandú", ""])
def test_usernames_follow_xs_rule(sandbox: Sandbox, username):
    import requests

    refused = requests.post(f"{sandbox.base_url}/sandbox/api/users", json={"username": username, "name": "x"})
    longest = requests.post(f"{sandbox.base_url}/sandbox/api/users", json={"username": "A_1" * 5, "name": "x"})

    assert refused.status_code == 400
    assert refused.json()["error"] == "username: 1 to 15 letters, digits or '_'"
    assert longest.status_code == 201


def test_the_seeded_customers_have_valid_x_usernames(sandbox: Sandbox):
    token = sandbox.token()

    lena = sandbox.api("GET", "/2/users/by/username/lena_k", token).json()

    assert lena["data"] == {"id": "906948460078698496", "name": "Lena Kowalski", "username": "lena_k"}
    assert all(re.fullmatch(r"[A-Za-z0-9_]{1,15}", u["username"]) for u in sandbox.control("GET", "users"))
