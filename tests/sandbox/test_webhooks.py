"""Webhooks, Account Activity subscriptions and signed delivery (x-api.md §7, §9.6), black-box.

A real HTTP server in the test process plays the webhook: it answers CRC with the app's consumer
secret and records every POST, so the sandbox's delivery worker is exercised over the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sandbox.test_media import png, upload
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox, fixture_json

OTHER_CUSTOMER = "944480690"


def signature(secret: str, message: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """The webhook: ``crc`` is "ok", "wrong" or a status; ``statuses`` answer the next POSTs (then 200)."""

    secret: str
    crc: str | int = "ok"
    statuses: list[int] = field(default_factory=list)
    posts: list[Received] = field(default_factory=list)
    crc_tokens: list[str] = field(default_factory=list)
    url: str = ""

    def handle_get(self, handler: BaseHTTPRequestHandler) -> None:
        token = parse_qs(urlsplit(handler.path).query).get("crc_token", [""])[0]
        self.crc_tokens.append(token)
        if isinstance(self.crc, int):
            return answer(handler, self.crc, b"{}")
        secret = self.secret if self.crc == "ok" else "not-the-consumer-secret"
        answer(handler, 200, json.dumps({"response_token": signature(secret, token.encode())}).encode())

    def handle_post(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        self.posts.append(Received({k.lower(): v for k, v in handler.headers.items()}, body, time.monotonic()))
        answer(handler, self.statuses.pop(0) if self.statuses else 200, b"ok")

    def wait_for(self, count: int, seconds: float = 10) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.posts) >= count, f"expected {count} POSTs, got {len(self.posts)}"
        return self.posts


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def receiver(sandbox: Sandbox) -> Iterator[Receiver]:
    hook = Receiver(secret=sandbox.control("GET", "app")["consumer_secret"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            hook.handle_get(self)

        def do_POST(self) -> None:  # noqa: N802
            hook.handle_post(self)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/x"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()


def app_token(sandbox: Sandbox) -> str:
    return sandbox.control("GET", "app")["bearer_token"]


def register(sandbox: Sandbox, url: str) -> Any:
    return sandbox.api("POST", "/2/webhooks", app_token(sandbox), json={"url": url})


def subscribe(sandbox: Sandbox, webhook_id: str, user: str = "AcmeSupport") -> Any:
    path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all"
    return sandbox.api("POST", path, sandbox.token(user))


def subscribed_hook(sandbox: Sandbox, receiver: Receiver, *users: str) -> str:
    webhook_id = register(sandbox, receiver.url).json()["data"]["id"]
    for user in users or ("AcmeSupport",):
        assert subscribe(sandbox, webhook_id, user).json() == {"data": {"subscribed": True}}
    return webhook_id


def customer_says(sandbox: Sandbox, text: str, customer: str = CUSTOMER_ID) -> str:
    return sandbox.control("POST", f"users/{customer}/messages", {"to": BUSINESS_ID, "text": text})["dm_event_id"]


def deliveries_when(sandbox: Sandbox, done: Callable[[list[dict]], bool], seconds: float = 10) -> list[dict]:
    deadline = time.monotonic() + seconds
    while True:
        found = sandbox.control("GET", "deliveries")
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def texts(posts: list[Received]) -> list[str]:
    return [p.payload["direct_message_events"][0]["message_create"]["message_data"]["text"] for p in posts]


def test_signature_algorithm_matches_the_autohook_vectors():
    vectors = fixture_json("webhook_signature_test_vectors.autohook.json")

    for vector in vectors["source_vectors"]:
        assert signature(vector["consumer_secret"], vector["body"].encode()) == vector["x-twitter-webhooks-signature"]
    for vector in vectors["computed_vectors"]:
        assert signature(vector["consumer_secret"], vector["crc_token"].encode()) == vector["response_token"]


def test_registration_passes_crc_and_lists_the_webhook(sandbox: Sandbox, receiver: Receiver):
    created = register(sandbox, receiver.url)
    listed = sandbox.api("GET", "/2/webhooks", app_token(sandbox)).json()

    assert created.status_code == 200
    data = created.json()["data"]
    assert set(data) == set(fixture_json("v2_webhooks_create_response.docs.json")["data"])
    assert data["valid"] is True and data["url"] == receiver.url and data["created_at"].endswith("Z")
    assert len(receiver.crc_tokens) == 1 and receiver.crc_tokens[0]
    assert listed == {"data": [data], "meta": {"result_count": 1}}


def test_wrong_crc_answer_stores_the_webhook_invalid_and_put_revalidates(sandbox: Sandbox, receiver: Receiver):
    receiver.crc = "wrong"
    refused = register(sandbox, receiver.url)
    again = register(sandbox, receiver.url)
    [stored] = sandbox.api("GET", "/2/webhooks", app_token(sandbox)).json()["data"]

    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["message"].startswith("CrcValidationFailed")
    assert again.json()["errors"][0]["message"].startswith("DuplicateUrlFailed")
    assert stored["valid"] is False

    receiver.crc = 500
    still_failing = sandbox.api("PUT", f"/2/webhooks/{stored['id']}", app_token(sandbox))
    receiver.crc = "ok"
    fixed = sandbox.api("PUT", f"/2/webhooks/{stored['id']}", app_token(sandbox))

    assert "CrcValidationFailed: Non-200" in still_failing.json()["errors"][0]["message"]
    assert fixed.json() == fixture_json("v2_webhooks_put_crc_response.docs.json")
    assert sandbox.api("GET", "/2/webhooks", app_token(sandbox)).json()["data"][0]["valid"] is True


def test_webhooks_need_the_app_token_and_delete_works(sandbox: Sandbox, receiver: Receiver):
    as_user = sandbox.api("POST", "/2/webhooks", sandbox.token(), json={"url": receiver.url})
    bad_url = register(sandbox, "ftp://example.com/hook")
    webhook_id = register(sandbox, receiver.url).json()["data"]["id"]

    deleted = sandbox.api("DELETE", f"/2/webhooks/{webhook_id}", app_token(sandbox))
    unknown = sandbox.api("DELETE", f"/2/webhooks/{webhook_id}", app_token(sandbox))

    assert as_user.status_code == 403 and as_user.json()["title"] == "Unsupported Authentication"
    assert bad_url.json()["errors"][0]["message"].startswith("UrlValidationFailed")
    assert deleted.json() == fixture_json("v2_webhooks_delete_response.docs.json")
    assert unknown.json()["errors"][0]["message"].startswith("WebhookIdInvalid")
    assert sandbox.api("GET", "/2/webhooks", app_token(sandbox)).json() == fixture_json(
        "v2_webhooks_list_empty_response.docs.json"
    )


def test_subscription_lifecycle(sandbox: Sandbox, receiver: Receiver):
    webhook_id = register(sandbox, receiver.url).json()["data"]["id"]
    base = f"/2/account_activity/webhooks/{webhook_id}/subscriptions"
    app, user = app_token(sandbox), sandbox.token()

    before = sandbox.api("GET", f"{base}/all", user).json()
    created = sandbox.api("POST", f"{base}/all", user)
    duplicate = sandbox.api("POST", f"{base}/all", user)
    with_app_token = sandbox.api("POST", f"{base}/all", app)
    listed = sandbox.api("GET", f"{base}/all/list", app).json()
    count = sandbox.api("GET", "/2/account_activity/subscriptions/count", app).json()["data"]
    removed = sandbox.api("DELETE", f"{base}/{BUSINESS_ID}/all", app)
    after = sandbox.api("GET", f"{base}/all", user).json()

    assert before == {"data": {"subscribed": False}}
    assert created.status_code == 200 and created.json() == fixture_json(
        "v2_aaa_subscription_create_response.docs.json"
    )
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"][0]["message"].startswith("DuplicateSubscriptionFailed")
    assert with_app_token.status_code == 403
    assert listed["data"]["webhook_id"] == webhook_id and listed["data"]["webhook_url"] == receiver.url
    assert listed["data"]["subscriptions"] == [{"user_id": BUSINESS_ID}] and listed["data"]["application_id"]
    assert count["subscriptions_count_all"] == "1" and set(count) == set(
        fixture_json("v2_aaa_subscriptions_count_response.docs.json")["data"]
    )
    assert removed.json() == fixture_json("v2_aaa_subscription_delete_response.docs.json")
    assert after == {"data": {"subscribed": False}}


def test_inbound_dm_and_outbound_echo_are_delivered_signed(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver)
    inbound_id = customer_says(sandbox, "Where is order #4417? @AcmeSupport https://example.com/o/4417")
    receiver.wait_for(1)
    reply = sandbox.api("POST", f"/2/dm_conversations/with/{CUSTOMER_ID}/messages", sandbox.token(),
                        json={"text": "On its way!"})  # fmt: skip
    inbound, echo = receiver.wait_for(2)

    for post in (inbound, echo):
        assert post.headers["content-type"] == "application/json"
        assert hmac.compare_digest(post.headers["x-twitter-webhooks-signature"], signature(receiver.secret, post.body))
    first = inbound.payload
    assert first["for_user_id"] == BUSINESS_ID and "apps" not in first
    event = first["direct_message_events"][0]
    assert event["id"] == inbound_id and event["type"] == "message_create" and event["created_timestamp"].isdigit()
    assert event["message_create"]["sender_id"] == CUSTOMER_ID
    assert event["message_create"]["target"] == {"recipient_id": BUSINESS_ID}
    assert "source_app_id" not in event["message_create"]
    entities = event["message_create"]["message_data"]["entities"]
    assert entities["hashtags"] == [] and entities["symbols"] == []
    assert entities["user_mentions"][0]["id_str"] == BUSINESS_ID and entities["urls"][0]["indices"][1] > 0
    assert set(first["users"]) == {CUSTOMER_ID, BUSINESS_ID}
    documented = fixture_json("aaa_direct_message_events.docs.json")["users"]["4337869213"]
    assert set(first["users"][CUSTOMER_ID]) == set(documented)
    second = echo.payload
    echo_event = second["direct_message_events"][0]
    assert echo_event["id"] == reply.json()["data"]["dm_event_id"] and second["for_user_id"] == BUSINESS_ID
    assert echo_event["message_create"]["sender_id"] == BUSINESS_ID
    assert echo_event["message_create"]["target"] == {"recipient_id": CUSTOMER_ID}
    app_id = echo_event["message_create"]["source_app_id"]
    assert second["apps"] == {
        app_id: {"id": app_id, "name": "Backchannel (sandbox)", "url": second["apps"][app_id]["url"]}
    }


def test_two_subscribed_users_in_one_conversation_get_one_delivery_each(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver, "AcmeSupport", "maria_codes")
    event_id = customer_says(sandbox, "hello")

    posts = receiver.wait_for(2)

    assert sorted(p.payload["for_user_id"] for p in posts) == sorted([BUSINESS_ID, CUSTOMER_ID])
    assert {p.payload["direct_message_events"][0]["id"] for p in posts} == {event_id}


def test_failing_endpoint_is_retried_until_it_answers_200(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver)
    receiver.statuses = [500, 500]
    customer_says(sandbox, "retry me")

    posts = receiver.wait_for(3)
    [delivery] = deliveries_when(sandbox, lambda found: found and found[0]["status"] != "pending")

    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert delivery["last_error"] == "HTTP 500"
    assert len({p.body for p in posts}) == 1
    assert posts[2].at - posts[1].at >= 0.25  # 27 s at --time-scale 0.01


def test_delivery_gives_up_after_the_fourth_attempt(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver)
    receiver.statuses = [503] * 10
    customer_says(sandbox, "nobody listens")

    [delivery] = deliveries_when(sandbox, lambda found: found and found[0]["status"] != "pending", seconds=15)
    time.sleep(0.3)

    assert delivery["status"] == "failed" and delivery["attempts"] == 4 and delivery["last_error"] == "HTTP 503"
    assert len(receiver.posts) == 4


def test_duplicate_fault_delivers_the_same_body_twice(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver)
    sandbox.control("POST", "faults", {"kind": "webhook_duplicate", "count": 1})
    customer_says(sandbox, "once")

    first, second = receiver.wait_for(2)

    assert first.body == second.body
    assert first.headers["x-twitter-webhooks-signature"] == second.headers["x-twitter-webhooks-signature"]


def test_delay_fault_holds_a_delivery(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver)
    sandbox.control("POST", "faults", {"kind": "webhook_delay", "count": 1, "seconds": 1})
    started = time.monotonic()
    customer_says(sandbox, "late")

    [post] = receiver.wait_for(1)

    assert post.at - started >= 1.0


def test_reorder_fault_sends_the_next_delivery_first(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver)
    sandbox.control("POST", "faults", {"kind": "webhook_reorder", "count": 1, "path": "/webhooks/"})
    customer_says(sandbox, "first")
    customer_says(sandbox, "second")

    posts = receiver.wait_for(2)

    assert texts(posts) == ["second", "first"]


def test_typing_and_read_are_delivered_to_the_other_party(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver)
    customer = sandbox.token("maria_codes")
    reply_id = sandbox.api("POST", f"/2/dm_conversations/with/{CUSTOMER_ID}/messages", sandbox.token(),
                           json={"text": "Anything else?"}).json()["data"]["dm_event_id"]  # fmt: skip
    receiver.wait_for(1)

    typing = sandbox.api("POST", f"/1.1/direct_messages/indicate_typing.json?recipient_id={BUSINESS_ID}", customer)
    read = sandbox.api("POST", "/1.1/direct_messages/mark_read.json", customer,
                       data={"last_read_event_id": reply_id, "recipient_id": BUSINESS_ID})  # fmt: skip
    sandbox.control("POST", f"users/{CUSTOMER_ID}/typing", {"to": BUSINESS_ID})
    missing = sandbox.api("POST", "/1.1/direct_messages/indicate_typing.json", customer)
    _, typed, seen, typed_again = receiver.wait_for(4)

    assert typing.status_code == 204 and read.status_code == 204
    assert missing.status_code == 400 and missing.json()["errors"][0]["code"] == 38
    expected = fixture_json("aaa_direct_message_indicate_typing_events.docs.json")
    assert set(typed.payload) == set(expected)
    [typing_event] = typed.payload["direct_message_indicate_typing_events"]
    assert typing_event["sender_id"] == CUSTOMER_ID and typing_event["target"] == {"recipient_id": BUSINESS_ID}
    assert typed.payload["for_user_id"] == BUSINESS_ID and set(typed.payload["users"]) == {CUSTOMER_ID, BUSINESS_ID}
    [read_event] = seen.payload["direct_message_mark_read_events"]
    assert set(read_event) == set(fixture_json("aaa_direct_message_mark_read_events.docs.json")
                                  ["direct_message_mark_read_events"][0])  # fmt: skip
    assert read_event["last_read_event_id"] == reply_id and read_event["sender_id"] == CUSTOMER_ID
    assert "direct_message_indicate_typing_events" in typed_again.payload


def test_attachment_quick_reply_response_and_group_messages(sandbox: Sandbox, receiver: Receiver):
    subscribed_hook(sandbox, receiver)
    token = sandbox.token()
    media_id = upload(sandbox, token, png(), "image/png", "dm_image")["id"]
    sandbox.api("POST", f"/2/dm_conversations/with/{CUSTOMER_ID}/messages", token,
                json={"text": "Your label", "attachments": [{"media_id": media_id}]})  # fmt: skip
    sandbox.control("POST", f"users/{CUSTOMER_ID}/messages", {"to": BUSINESS_ID, "text": "Yes",
                    "quick_reply_response": {"type": "options", "metadata": "yes-1"}})  # fmt: skip
    group = sandbox.api(
        "POST",
        "/2/dm_conversations",
        token,
        json={
            "conversation_type": "Group",
            "participant_ids": [CUSTOMER_ID, OTHER_CUSTOMER],
            "message": {"text": "Hi all"},
        },
    )
    sandbox.control("POST", f"users/{OTHER_CUSTOMER}/messages", {
        "conversation_id": group.json()["data"]["dm_conversation_id"], "text": "Hi!"})  # fmt: skip
    with_media, answer_, group_echo, group_inbound = receiver.wait_for(4)

    media = with_media.payload["direct_message_events"][0]["message_create"]["message_data"]["attachment"]["media"]
    assert media["id"] == int(media_id) and media["id_str"] == media_id and media["type"] == "photo"
    assert media["media_url_https"] == f"{sandbox.base_url}/2/dm_conversations/media/{media_id}"
    assert sandbox.api("GET", urlsplit(media["media_url_https"]).path, token).status_code == 200
    data = answer_.payload["direct_message_events"][0]["message_create"]["message_data"]
    assert data["quick_reply_response"] == {"type": "options", "metadata": "yes-1"}
    assert texts([group_echo, group_inbound]) == ["Hi all", "Hi!"]  # ParticipantsJoin is not delivered
    assert group_echo.payload["direct_message_events"][0]["message_create"]["target"]["recipient_id"] == CUSTOMER_ID
    assert group_inbound.payload["direct_message_events"][0]["message_create"]["target"] == {
        "recipient_id": BUSINESS_ID
    }
    time.sleep(0.2)
    assert len(receiver.posts) == 4
