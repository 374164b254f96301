"""XClient against the real X sandbox over HTTP: every endpoint it calls, X's limits, faults and bad tokens.

The sandbox is black-boxed: the world is set up through its control API (``/sandbox/api/``), as in
tests/sandbox/, and everything else goes through the client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel.client import StaticUserAuth, XClient
from twitter_channel.x_errors import AuthError, NotFound, PermanentError, RateLimited, Transient

KENJI = "783214"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
ONE_TO_ONE = f"{CUSTOMER_ID}-{BUSINESS_ID}"  # numeric order: 2244994945 < 1500000000000000001


def png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))


@pytest.fixture(autouse=True)
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox speaks plain HTTP on 127.0.0.1


def x_client(sandbox: Sandbox, user: str = "AcmeSupport", **kwargs: Any) -> XClient:
    options: dict[str, Any] = {
        "user_auth": StaticUserAuth(sandbox.token(user)),
        "app_bearer": sandbox.control("GET", "app")["bearer_token"],
        "base_url": sandbox.base_url,
        "timeout": (3.0, 10.0),
    }
    return XClient(**{**options, **kwargs})


@pytest.fixture
def acme(sandbox: Sandbox) -> Iterator[XClient]:
    client = x_client(sandbox)
    yield client
    client.close()


def customer_says(sandbox: Sandbox, text: str, customer: str = CUSTOMER_ID) -> str:
    return sandbox.control("POST", f"users/{customer}/messages", {"to": BUSINESS_ID, "text": text})["dm_event_id"]


def soon(value: datetime | None, seconds: float) -> bool:
    now = datetime.now(UTC)
    return value is not None and now - timedelta(seconds=5) < value <= now + timedelta(seconds=seconds + 5)


# --- DM manage ---------------------------------------------------------------------------------------------


def test_send_to_participant_then_to_the_conversation(sandbox: Sandbox, acme: XClient):
    first = acme.dm_send_to_participant(CUSTOMER_ID, text="Hola María, how can we help?")
    second = acme.dm_send_to_conversation(first.dm_conversation_id, text="We are on it.")

    assert first.dm_conversation_id == second.dm_conversation_id == ONE_TO_ONE
    assert int(second.dm_event_id) > int(first.dm_event_id)
    # the launch tier: 200 per 15 minutes, 1000 per day per user, 15000 per day per app (x-api.md §5)
    assert (first.rate_limit.limit, first.rate_limit.remaining, second.rate_limit.remaining) == (200, 199, 198)
    assert soon(first.rate_limit.reset_at, 15 * 60)
    assert (first.rate_limit.user_24h.limit, first.rate_limit.user_24h.remaining) == (1000, 999)
    assert (first.rate_limit.app_24h.limit, second.rate_limit.app_24h.remaining) == (15000, 14998)
    assert soon(first.rate_limit.user_24h.reset_at, 24 * 3600)
    page = acme.conversation_events_page(ONE_TO_ONE)
    assert [(e.id, e.text, e.sender_id) for e in page.events] == [
        (second.dm_event_id, "We are on it.", BUSINESS_ID),
        (first.dm_event_id, "Hola María, how can we help?", BUSINESS_ID),
    ]


def test_group_create_starts_a_new_group_conversation(acme: XClient):
    sent = acme.dm_group_create([CUSTOMER_ID, KENJI], text="Welcome to the group")
    again = acme.dm_group_create([CUSTOMER_ID, KENJI], text="Welcome to the group")
    reply = acme.dm_send_to_conversation(sent.dm_conversation_id, text="Second message")

    assert "-" not in sent.dm_conversation_id and len(sent.dm_conversation_id) >= 15
    assert again.dm_conversation_id != sent.dm_conversation_id  # X: always a new conversation
    assert reply.dm_conversation_id == sent.dm_conversation_id
    page = acme.conversation_events_page(sent.dm_conversation_id)
    assert [e.event_type for e in page.events] == ["MessageCreate", "MessageCreate", "ParticipantsJoin"]
    joined = page.events[-1]
    assert set(joined.participant_ids) >= {CUSTOMER_ID, KENJI}
    assert {u.username for u in joined.participants} >= {"maria_codes", "kenji_t"}
    assert page.events[1].id == sent.dm_event_id and page.events[1].text == "Welcome to the group"


def test_sending_to_an_unknown_user_is_not_found(acme: XClient):
    with pytest.raises(NotFound) as caught:
        acme.dm_send_to_participant("999999999", text="anyone there?")

    assert caught.value.status == 404
    assert str(caught.value) == (
        "POST /2/dm_conversations/with/999999999/messages: 404 Not Found Error — "
        "Could not find user with participant_id: [999999999]."
    )


def test_delete_an_own_event(acme: XClient):
    sent = acme.dm_send_to_participant(CUSTOMER_ID, text="oops")

    assert acme.dm_event_delete(sent.dm_event_id).deleted is True


# --- DM lookup ---------------------------------------------------------------------------------------------


def test_participant_lookup_pages_through_everything_with_includes(sandbox: Sandbox, acme: XClient):
    inbound = [customer_says(sandbox, f"customer {i}") for i in range(3)]
    outbound = [acme.dm_send_to_participant(CUSTOMER_ID, text=f"agent {i}").dm_event_id for i in range(2)]

    pages = list(acme.participant_events_pages(CUSTOMER_ID, max_results=2))

    assert [len(p.events) for p in pages] == [2, 2, 1]
    events = [e for p in pages for e in p.events]
    assert [e.id for e in events] == [*reversed(outbound), *reversed(inbound)]  # newest first
    maria = events[-1].sender
    assert (maria.id, maria.username, maria.name, maria.location) == (
        CUSTOMER_ID,
        "maria_codes",
        "María Fernández",
        "Madrid",
    )
    assert maria.receives_your_dm is True and maria.followers_count is not None
    assert events[0].sender.username == "AcmeSupport"
    assert {e.dm_conversation_id for e in events} == {ONE_TO_ONE}
    assert all(e.created_at is not None and e.created_at <= datetime.now(UTC) for e in events)
    # X (and the sandbox) put a next_token even on the short last page: the client asked once more, got an
    # empty page and stopped. Four lookups: the last page's rate limit says 296 of 300 left after it.
    assert pages[-1].next_token is not None
    assert pages[-1].rate_limit.remaining == 297
    assert acme.participant_events_page(CUSTOMER_ID).rate_limit.remaining == 295


def test_dm_events_and_conversation_lookups_with_event_types_and_paging(sandbox: Sandbox, acme: XClient):
    group = acme.dm_group_create([CUSTOMER_ID, KENJI], text="group hello")
    customer_says(sandbox, "one-to-one hello")

    everything = [e for p in acme.dm_events_pages(max_results=1) for e in p.events]
    messages = acme.dm_events_page(event_types=["MessageCreate"])
    joins = acme.conversation_events_page(group.dm_conversation_id, event_types=["ParticipantsJoin"])
    first = acme.dm_events_page(max_results=1)
    second = acme.dm_events_page(max_results=1, pagination_token=first.next_token)

    assert [e.event_type for e in everything] == ["MessageCreate", "MessageCreate", "ParticipantsJoin"]
    assert [e.text for e in messages.events] == ["one-to-one hello", "group hello"]
    assert [e.event_type for e in joins.events] == ["ParticipantsJoin"]
    assert [first.events[0].id, second.events[0].id] == [everything[0].id, everything[1].id]


def test_get_one_event_with_its_sender(sandbox: Sandbox, acme: XClient):
    event_id = customer_says(sandbox, "Where is my #refund?")

    page = acme.dm_event(event_id)

    (event,) = page.events
    assert (event.id, event.text, event.event_type, event.sender_id) == (
        event_id,
        "Where is my #refund?",
        "MessageCreate",
        CUSTOMER_ID,
    )
    assert event.sender.username == "maria_codes"
    assert [(h["tag"], h["start"], h["end"]) for h in event.entities["hashtags"]] == [("refund", 12, 19)]


def test_a_shared_post_is_resolved(sandbox: Sandbox, acme: XClient):
    post = sandbox.control("POST", "posts", {"author": "AcmeSupport", "text": "Our spring sale starts today"})

    sent = acme.dm_send_to_participant(CUSTOMER_ID, text=f"See https://x.com/AcmeSupport/status/{post['id']}")
    (event,) = acme.dm_event(sent.dm_event_id).events

    assert event.referenced_post_ids == (post["id"],)
    (found,) = event.referenced_posts
    assert (found.text, found.author_id) == ("Our spring sale starts today", BUSINESS_ID)


def test_get_an_unknown_event_is_not_found(acme: XClient):
    with pytest.raises(NotFound, match=r"GET /2/dm_events/123: 404 Not Found Error"):
        acme.dm_event("123")


# --- users ---------------------------------------------------------------------------------------------------


def test_user_lookups(acme: XClient):
    me = acme.me()
    maria = acme.user(CUSTOMER_ID)
    by_name = acme.user_by_username("MARIA_codes")
    several = acme.users([CUSTOMER_ID, KENJI, "999999999"])

    assert (me.user.id, me.user.username, me.user.name) == (BUSINESS_ID, "AcmeSupport", "Acme Support")
    assert me.rate_limit.limit == 75
    assert (maria.user.username, maria.user.location, maria.user.protected) == ("maria_codes", "Madrid", False)
    assert by_name.user.id == CUSTOMER_ID
    assert [u.username for u in several.users] == ["maria_codes", "kenji_t"]
    assert [e["resource_id"] for e in several.errors] == ["999999999"]
    with pytest.raises(NotFound, match=r"GET /2/users/999999999: 200 Not Found Error — Could not find user"):
        acme.user("999999999")
    with pytest.raises(NotFound):
        acme.user_by_username("nobody_here")


# --- media ---------------------------------------------------------------------------------------------------


def test_chunked_png_upload_then_send_it_and_download_it(acme: XClient):
    data = png()

    media = acme.media_upload(data, media_type="image/png", media_category="dm_image", chunk_size=20)
    sent = acme.dm_send_to_participant(CUSTOMER_ID, text="Here is your label", media_id=media.media_id)
    (event,) = acme.dm_event(sent.dm_event_id).events
    content, content_type = acme.media_download(event.media[0].url)

    assert media.media_key == f"3_{media.media_id}" and media.size == len(data)
    assert media.processing_state in (None, "succeeded")
    assert 0 < media.expires_after_secs <= 86400
    assert event.media_keys == (media.media_key,)
    assert (event.media[0].type, event.media[0].media_key) == ("photo", media.media_key)
    assert (content, content_type) == (data, "image/png")


def test_gif_upload_waits_while_x_processes_it(sandbox: Sandbox):
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        sandbox.control("POST", "clock", {"seconds": seconds})  # move the sandbox's processing along

    client = x_client(sandbox, sleep=sleep)
    media = client.media_upload(GIF, media_type="image/gif", media_category="dm_gif")
    sent = client.dm_send_to_participant(CUSTOMER_ID, media_id=media.media_id)

    assert naps and sum(naps) >= 3
    assert (media.processing_state, media.media_key) == ("succeeded", f"16_{media.media_id}")
    (event,) = client.dm_event(sent.dm_event_id).events
    assert event.media[0].type == "animated_gif" and event.text == ""


def test_an_inbound_dms_media_downloads_with_the_business_token(sandbox: Sandbox, acme: XClient):
    maria = x_client(sandbox, user="maria_codes")
    data = png()
    uploaded = maria.media_upload(data, media_type="image/png", media_category="dm_image")
    maria.dm_send_to_participant(BUSINESS_ID, text="the broken part", media_id=uploaded.media_id)

    (event,) = acme.participant_events_page(CUSTOMER_ID).events
    content, content_type = acme.media_download(event.media[0].url)

    assert event.sender.username == "maria_codes" and event.media[0].type == "photo"
    assert (content, content_type) == (data, "image/png")
    with pytest.raises(PermanentError, match=f"larger than the {len(data) - 1} bytes allowed"):
        acme.media_download(event.media[0].url, max_bytes=len(data) - 1)


def test_someone_elses_media_cannot_be_attached(sandbox: Sandbox, acme: XClient):
    theirs = x_client(sandbox, user="maria_codes").media_upload(
        png(), media_type="image/png", media_category="dm_image"
    )

    with pytest.raises(PermanentError) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, media_id=theirs.media_id)

    assert str(caught.value) == (
        f"POST /2/dm_conversations/with/{CUSTOMER_ID}/messages: 403 Forbidden — "
        "You are not permitted to attach this media to a DM event."
    )


# --- webhooks and subscriptions ------------------------------------------------------------------------------


@pytest.fixture
def webhook_url(sandbox: Sandbox) -> Iterator[str]:
    """A local webhook that answers CRC with the app's consumer secret and accepts event POSTs."""
    secret = sandbox.control("GET", "app")["consumer_secret"].encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            token = parse_qs(urlsplit(self.path).query).get("crc_token", [""])[0]
            digest = base64.b64encode(hmac.new(secret, token.encode(), hashlib.sha256).digest()).decode()
            self._answer(json.dumps({"response_token": f"sha256={digest}"}).encode())

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer(b"{}")

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/x"
    server.shutdown()
    server.server_close()


def test_webhook_and_subscription_lifecycle(acme: XClient, webhook_url: str):
    created = acme.webhook_create(webhook_url).webhook
    listed = acme.webhooks().webhooks
    validated = acme.webhook_validate(created.id)
    subscribed = acme.subscription_create(created.id)
    checked = acme.subscription_check(created.id)
    subscriptions = acme.subscriptions(created.id)
    count = acme.subscription_count()
    with pytest.raises(PermanentError, match="DuplicateSubscriptionFailed"):
        acme.subscription_create(created.id)
    unsubscribed = acme.subscription_delete(created.id, BUSINESS_ID)
    after = acme.subscription_check(created.id)
    deleted = acme.webhook_delete(created.id)

    assert (created.url, created.valid) == (webhook_url, True)
    assert created.created_at is not None and abs((created.created_at - datetime.now(UTC)).total_seconds()) < 60
    assert listed == (created,)
    assert validated.data == {"valid": True} and validated.rate_limit.limit == 450
    assert (subscribed.subscribed, checked.subscribed) == (True, True)
    assert (subscriptions.webhook_id, subscriptions.webhook_url, subscriptions.user_ids) == (
        created.id,
        webhook_url,
        (BUSINESS_ID,),
    )
    assert subscriptions.application_id == "13090192"
    assert (count.subscriptions_count_all, count.provisioned_count, count.subscriptions_count_direct_messages) == (
        1,
        50,
        0,
    )
    assert count.account_name == "Backchannel (sandbox)"
    assert (unsubscribed.subscribed, after.subscribed, deleted.deleted) == (False, False, True)
    assert acme.webhooks().webhooks == ()


def test_a_webhook_that_fails_crc_is_refused(acme: XClient):
    with pytest.raises(PermanentError, match=r"POST /2/webhooks: 400 Invalid Request — .*CrcValidationFailed"):
        acme.webhook_create("http://127.0.0.1:9/nothing-listens-here")


def test_an_app_call_with_a_user_token_is_refused(sandbox: Sandbox):
    confused = x_client(sandbox, app_bearer=sandbox.token())

    with pytest.raises(PermanentError, match="403 Unsupported Authentication"):
        confused.webhooks()


# --- typing and read receipts (v1.1) ----------------------------------------------------------------------------


def test_typing_and_mark_read(sandbox: Sandbox, acme: XClient):
    event_id = customer_says(sandbox, "are you there?")

    typing = acme.indicate_typing(CUSTOMER_ID)
    read = acme.mark_read(CUSTOMER_ID, event_id)

    assert (typing.data, read.data) == ({}, {})
    assert (typing.rate_limit.limit, typing.rate_limit.remaining, read.rate_limit.remaining) == (1000, 999, 998)
    with pytest.raises(NotFound, match=r"404 Not Found — Sorry, that page does not exist. \(code 34\)"):
        acme.mark_read(CUSTOMER_ID, "1")


# --- limits, faults and tokens ---------------------------------------------------------------------------------


def test_an_exhausted_window_is_rate_limited_until_its_reset(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "user", "windows": [[900, 1]]})
    acme.dm_send_to_participant(CUSTOMER_ID, text="first")

    with pytest.raises(RateLimited) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, text="second")

    err = caught.value
    assert (err.status, err.title, err.rate_limit.remaining) == (429, "Too Many Requests", 0)
    assert soon(err.reset_at, 900) and err.reset_at > datetime.now(UTC) + timedelta(seconds=800)
    assert sandbox.control("GET", "counters")["messages_by_sender"] == {BUSINESS_ID: 1}


def test_an_exhausted_day_window_waits_for_the_day(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "user", "windows": [[900, 50], [86400, 1]]})
    acme.dm_send_to_participant(CUSTOMER_ID, text="first")

    with pytest.raises(RateLimited) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, text="second")

    assert caught.value.rate_limit.user_24h.remaining == 0
    assert caught.value.reset_at > datetime.now(UTC) + timedelta(hours=23)


def test_an_injected_429_names_its_reset(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "faults", {"kind": "429", "count": 1, "seconds": 120})

    with pytest.raises(RateLimited) as caught:
        acme.dm_events_page()

    assert soon(caught.value.reset_at, 120) and caught.value.reset_at > datetime.now(UTC) + timedelta(seconds=100)
    assert acme.dm_events_page().result_count == 0  # the fault was used up


@pytest.mark.parametrize("kind", ["500", "503"])
def test_injected_server_errors_are_transient(sandbox: Sandbox, acme: XClient, kind):
    sandbox.control("POST", "faults", {"kind": kind, "count": 1, "method": "POST", "path": "/2/dm_conversations"})

    with pytest.raises(Transient) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, text="hello?")

    assert type(caught.value) is Transient and caught.value.status == int(kind)
    assert acme.dm_send_to_participant(CUSTOMER_ID, text="hello again").dm_conversation_id == ONE_TO_ONE


def test_a_hanging_x_is_a_transient_timeout(sandbox: Sandbox):
    sandbox.control("POST", "faults", {"kind": "hang", "count": 1, "method": "GET", "seconds": 1.5})
    client = x_client(sandbox, timeout=(3.0, 0.5))

    started = time.monotonic()
    with pytest.raises(Transient, match=r"GET /2/users/me: no answer within 0.5s"):
        client.me()

    assert time.monotonic() - started < 1.4


def test_a_dropped_connection_is_transient(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "faults", {"kind": "reset", "count": 1})

    with pytest.raises(Transient, match=r"GET /2/dm_events: the connection failed"):
        acme.dm_events_page()

    assert acme.dm_events_page().result_count == 0


def test_accept_then_fail_is_transient_although_the_message_landed(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "faults", {"kind": "accept_then_fail", "count": 1, "method": "POST"})

    with pytest.raises(Transient) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, text="did it go?")

    assert caught.value.status == 503
    assert [e.text for e in acme.participant_events_page(CUSTOMER_ID).events] == ["did it go?"]


def test_an_expired_token_is_an_auth_error(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "clock", {"seconds": 7201})

    with pytest.raises(AuthError) as caught:
        acme.me()

    assert (caught.value.status, str(caught.value)) == (401, "GET /2/users/me: 401 Unauthorized")


class RevokedThenFresh:
    """A UserAuth whose stored token was revoked at X; renewing fetches a fresh one."""

    def __init__(self, sandbox: Sandbox, token: str) -> None:
        self.sandbox, self.token, self.renewed = sandbox, token, []

    def access_token(self) -> str:
        return self.token

    def renew(self, rejected: str) -> str | None:
        self.renewed.append(rejected)
        self.token = self.sandbox.token()
        return self.token


def revoke(sandbox: Sandbox, token: str) -> None:
    import requests

    app = sandbox.control("GET", "app")
    response = requests.post(
        f"{sandbox.base_url}/2/oauth2/revoke",
        data={"token": token},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_a_revoked_token_is_renewed_once_and_the_call_retried(sandbox: Sandbox):
    revoked = sandbox.token()
    revoke(sandbox, revoked)
    auth = RevokedThenFresh(sandbox, revoked)
    client = x_client(sandbox, user_auth=auth)

    sent = client.dm_send_to_participant(CUSTOMER_ID, text="after a renewal")

    assert auth.renewed == [revoked]
    assert sandbox.control("GET", "counters")["messages_by_sender"] == {BUSINESS_ID: 1}
    assert sent.dm_conversation_id == ONE_TO_ONE


def test_a_revoked_token_without_renewal_is_an_auth_error(sandbox: Sandbox):
    revoked = sandbox.token()
    revoke(sandbox, revoked)

    with pytest.raises(AuthError, match="401 Unauthorized"):
        x_client(sandbox, user_auth=StaticUserAuth(revoked)).dm_events_page()


def test_a_token_without_dm_scopes_is_forbidden(sandbox: Sandbox):
    client = x_client(sandbox, user_auth=StaticUserAuth(sandbox.token(scopes="tweet.read users.read")))

    with pytest.raises(PermanentError) as caught:
        client.dm_events_page()

    assert type(caught.value) is PermanentError
    assert (caught.value.status, caught.value.title, caught.value.detail) == (403, "Forbidden", "Forbidden")
