"""X's webhook POSTs under ASGI (``webhook_asgi``): group commit, reading limits, and what it leaves to Django.

The refusals themselves are checked through both transports in ``test_webhook_endpoint.py``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from config.asgi import application
from tests.asgi_http import AsgiClient
from twitter_channel.inbound import deliveries
from twitter_channel.inbound.webhook_asgi import WebhookFastPath
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db

URL = "/twitter/webhook/"
SECRET = "fast-path-secret"
# Long enough for any loaded machine to store one POST; the test fails by hanging this long, not by being slow.
STUCK_SECONDS = 60


@pytest.fixture(autouse=True)
def consumer_secret(settings):
    settings.X_CONSUMER_SECRET = SECRET
    settings.X_WEBHOOK_MAX_BYTES = 1000


def body_of(n: int) -> bytes:
    return json.dumps({"for_user_id": "1", "direct_message_events": [], "n": n}).encode()


def headers_for(body: bytes) -> list[tuple[bytes, bytes]]:
    signature = "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"x-twitter-webhooks-signature", signature.encode()),
    ]


def scope_for(body: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers_for(body),
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        **extra,
    }


async def call(
    scope: dict[str, Any], chunks: list[bytes], *, disconnect_after: int | None = None, app: Any = application
) -> dict[str, Any]:
    """Run the application on one request; return what it sent and how many body chunks it asked for."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if disconnect_after is not None and asked > disconnect_after:
            return {"type": "http.disconnect"}
        n = asked - 1
        if n >= len(chunks):  # the whole body was read; a server next says only that the client left
            await asyncio.Event().wait()
        more = n < len(chunks) - 1
        return {"type": "http.request", "body": chunks[n], "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"] if sent else None
    body = b"".join(m.get("body", b"") for m in sent[1:])
    answer = json.loads(body) if sent and (b"content-type", b"application/json") in sent[0]["headers"] else None
    return {"status": status, "answer": answer, "chunks_read": asked}


def test_posts_arriving_together_share_a_commit_and_each_gets_its_own_row():
    # when 20 signed deliveries arrive at the same moment
    bodies = [body_of(n) for n in range(20)]

    async def all_at_once() -> list[dict[str, Any]]:
        return await asyncio.gather(*(call(scope_for(b), [b]) for b in bodies))

    with CaptureQueriesContext(connection) as queries:
        results = async_to_sync(all_at_once)()

    # then each is answered 200 with the id of the row holding exactly its body
    assert [r["status"] for r in results] == [200] * 20
    stored = {d.pk: d.body for d in WebhookDelivery.objects.all()}
    assert [stored[r["answer"]["delivery_id"]] for r in results] == [b.decode() for b in bodies]
    # and they were written by fewer INSERTs than POSTs
    inserts = [
        q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "twitter_channel_webhookdelivery"')
    ]
    assert 1 <= len(inserts) < 20


def test_a_body_without_content_length_is_read_only_until_it_passes_the_limit():
    body = b"x" * 400
    result = async_to_sync(call)(scope_for(body), [body] * 50)

    assert result["status"] == 413
    assert "larger than" in result["answer"]["detail"]
    assert result["chunks_read"] == 3  # 1,200 bytes: the first read past the 1,000-byte limit
    assert WebhookDelivery.objects.count() == 0


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body():
    body = body_of(1)
    scope = scope_for(body)
    scope["headers"].append((b"content-length", b"50000"))

    result = async_to_sync(call)(scope, [body])

    assert result["status"] == 413
    assert result["chunks_read"] == 0


def test_a_client_that_goes_away_mid_body_is_not_answered_and_nothing_is_stored():
    body = body_of(1)
    result = async_to_sync(call)(scope_for(body), [body[:10], body[10:]], disconnect_after=1)

    assert result["status"] is None
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize(
    "failure", [DatabaseError("the database is restarting"), RuntimeError("a bug")], ids=["database", "bug"]
)
def test_a_failed_commit_answers_503_to_its_posts_and_the_next_ones_are_stored(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
):
    real = deliveries.rows_insert
    failures = iter([True])

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        if next(failures, False):
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(deliveries, "rows_insert", fails_once)  # the INSERT of the deliveries
    first, second = body_of(1), body_of(2)

    refused = async_to_sync(call)(scope_for(first), [first])
    accepted = async_to_sync(call)(scope_for(second), [second])

    assert refused["status"] == 503
    assert refused["answer"] == {
        "error": "unavailable",
        "detail": "The delivery could not be stored right now; send it again.",
    }
    assert accepted["status"] == 200
    assert list(WebhookDelivery.objects.values_list("body", flat=True)) == [second.decode()]


async def django_stand_in(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Where ``WebhookFastPath`` hands what it does not take: answers 299 so the tests can tell."""
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize(
    ("change", "taken"),
    [
        ({}, True),
        ({"headers": [(b"host", b"evil.example")]}, False),
        ({"path": "/twitter/webhook"}, False),
        ({"path": "/twitter/webhook/register/"}, False),
        ({"method": "PUT"}, False),
        ({"type": "websocket"}, False),
        ({"root_path": "/backchannel", "path": "/backchannel/twitter/webhook/"}, True),
    ],
    ids=["the-webhook", "host-not-allowed", "no-slash", "another-path", "put", "websocket", "under-a-root-path"],
)
def test_only_posts_to_the_webhook_over_an_allowed_host_are_taken(change: dict[str, Any], taken: bool):
    body = body_of(1)
    scope = scope_for(body)
    if "headers" in change:
        scope["headers"] = change.pop("headers") + scope["headers"][1:]
    scope.update(change)

    result = async_to_sync(call)(scope, [body], app=WebhookFastPath(django_stand_in))

    assert (result["status"] == 200) is taken
    assert (result["status"] == 299) is not taken
    assert WebhookDelivery.objects.count() == (1 if taken else 0)


def test_plain_http_under_ssl_redirect_is_left_to_django_and_https_behind_a_proxy_is_taken(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    app = WebhookFastPath(django_stand_in)
    body = body_of(1)

    plain = async_to_sync(call)(scope_for(body), [body], app=app)
    proxied_scope = scope_for(body)
    proxied_scope["headers"].append((b"x-forwarded-proto", b"https"))
    proxied = async_to_sync(call)(proxied_scope, [body], app=app)
    https = async_to_sync(call)(scope_for(body, scheme="https"), [body], app=app)

    assert (plain["status"], proxied["status"], https["status"]) == (299, 200, 200)
    assert WebhookDelivery.objects.count() == 2


def test_the_crc_and_other_paths_still_reach_django():
    client = AsgiClient(application)

    crc = client.get(URL, {"crc_token": "foo"})
    other = client.get("/healthz")

    assert crc.json()["response_token"].startswith("sha256=")
    assert other.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_posts_are_stored_on_a_thread_of_their_own_not_the_one_other_sync_code_shares():
    # given a server's event loop (no sync thread above it) whose shared thread for sync code is stuck, as
    # a websocket's presence call is while Redis is frozen
    body = body_of(1)

    async def while_the_shared_thread_is_stuck() -> dict[str, Any]:
        release = threading.Event()
        stuck = asyncio.ensure_future(sync_to_async(release.wait)())
        try:
            # a POST that had to wait for that thread would never be answered here
            return await asyncio.wait_for(call(scope_for(body), [body]), STUCK_SECONDS)
        finally:
            release.set()
            await stuck

    answers: list[dict[str, Any]] = []
    server = threading.Thread(target=lambda: answers.append(asyncio.run(while_the_shared_thread_is_stuck())))
    server.start()
    server.join()

    # then it was stored and answered all the same
    assert answers and answers[0]["status"] == 200
    assert WebhookDelivery.objects.get(pk=answers[0]["answer"]["delivery_id"]).body == body.decode()
