"""``/twitter/webhook/``: the CRC, the signature check, and every refusal (a 4xx, nothing stored, never a 500)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, connection, transaction
from django.test import Client, RequestFactory

from config.asgi import application
from inbox.models import Message
from tests.asgi_http import AsgiClient
from tests.xsandbox import fixture_json
from twitter_channel.inbound import deliveries
from twitter_channel.inbound import webhook_checks as webhooks
from twitter_channel.inbound.webhook_views import webhook
from twitter_channel.models import WebhookDelivery
from twitter_channel.task_names import WEBHOOK_DELIVERIES_DRAIN, task
from twitter_channel.tasks import webhook_deliveries_drain

pytestmark = pytest.mark.django_db

URL = "/twitter/webhook/"
SECRET = "test"
VECTORS = fixture_json("webhook_signature_test_vectors.autohook.json")
GOOD_BODY = json.dumps(fixture_json("aaa_direct_message_events.docs.json"), indent=1, ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """Computed here, independently of the code under test (x-api.md §7.3)."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def post(client: Client, body: bytes, *, sign_as: bytes | None = None, secret: str = SECRET, **kwargs: Any):
    """POST ``body`` signed over ``sign_as`` (default: the body itself) with ``secret``."""
    headers = {"x-twitter-webhooks-signature": signature(secret, body if sign_as is None else sign_as)}
    kwargs.setdefault("content_type", "application/json")
    return client.post(URL, data=body, headers=headers | kwargs.pop("headers", {}), **kwargs)


@pytest.fixture(params=["wsgi", "asgi"])
def client(request: pytest.FixtureRequest) -> Client | AsgiClient:
    """Each test runs through Django's WSGI handler (the view) and through the ASGI application, where
    ``webhook_asgi`` answers the POSTs before Django and hands everything else to it."""
    return Client() if request.param == "wsgi" else AsgiClient(application)


@pytest.fixture(autouse=True)
def consumer_secret(settings):
    settings.X_CONSUMER_SECRET = SECRET
    settings.X_WEBHOOK_MAX_BYTES = 1024 * 1024


@pytest.fixture
def no_x(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any HTTP call from this process fails the test: the endpoint must not talk to X."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"HTTP call during the request: {args[1:3]}")

    monkeypatch.setattr(requests.Session, "request", refuse)


def assert_refused(response, status: int, words: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    answer = json.loads(response.content)
    assert words.lower() in answer["detail"].lower(), answer
    assert WebhookDelivery.objects.count() == 0
    assert Message.objects.count() == 0


# -- CRC ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["computed_vectors"], ids=lambda v: v["crc_token"])
def test_crc_answers_with_the_autohook_vectors(client: Client, settings, vector: dict[str, str]):
    # given the vector's consumer secret
    settings.X_CONSUMER_SECRET = vector["consumer_secret"]

    # when X sends its CRC
    response = client.get(URL, {"crc_token": vector["crc_token"]})

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"response_token": vector["response_token"]}


def test_crc_for_foo_with_secret_test_is_the_documented_token(client: Client):
    response = client.get(URL, {"crc_token": "foo"})

    assert response.json() == {"response_token": "sha256=HlU5y5rWhNi1SHftUCyOxuT6JRuDqeVBKWp1yvldR04="}


@pytest.mark.parametrize(
    ("query", "words"),
    [({}, "crc_token query parameter is missing"), ({"crc_token": ""}, "empty"), ({"crc_token": "a" * 1025}, "longer")],
    ids=["missing", "empty", "too-long"],
)
def test_crc_without_a_usable_token_is_400(client: Client, query: dict[str, str], words: str):
    response = client.get(URL, query)

    assert_refused(response, 400, words)


def test_without_a_consumer_secret_the_endpoint_says_so_with_503(client: Client, settings):
    settings.X_CONSUMER_SECRET = ""

    crc = client.get(URL, {"crc_token": "foo"})
    delivery = post(client, GOOD_BODY)

    assert_refused(crc, 503, "X_CONSUMER_SECRET is not set")
    assert_refused(delivery, 503, "X_CONSUMER_SECRET is not set")


def test_crc_cannot_be_used_to_sign_a_forged_delivery(client: Client):
    # given a delivery an attacker would like X's signature for
    forged = json.dumps({"for_user_id": "1", "direct_message_events": []}).encode()

    # when they ask the CRC endpoint to "answer" it
    response = client.get(URL, {"crc_token": forged.decode()})

    # then no signature is handed out, and one made that way would have been accepted
    assert_refused(response, 400, "'{'")
    assert post(client, forged).status_code == 200


# -- signatures (pure function) -------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["source_vectors"], ids=["form", "json"])
def test_signature_check_accepts_the_autohook_vectors_and_nothing_else(vector: dict[str, str]):
    body = vector["body"].encode()
    good = vector["x-twitter-webhooks-signature"]

    assert webhooks.signature_is_valid(consumer_secret=vector["consumer_secret"], body=body, signature=good)
    assert not webhooks.signature_is_valid(consumer_secret="other", body=body, signature=good)
    assert not webhooks.signature_is_valid(consumer_secret=vector["consumer_secret"], body=body + b" ", signature=good)
    assert not webhooks.signature_is_valid(consumer_secret=vector["consumer_secret"], body=body, signature=good[:-2])
    assert not webhooks.signature_is_valid(consumer_secret=vector["consumer_secret"], body=body, signature="sha256=é")


def test_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch):
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(webhooks.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    body = b'{"a":1}'

    assert webhooks.signature_is_valid(consumer_secret=SECRET, body=body, signature=signature(SECRET, body))
    assert compared == [(signature(SECRET, body).encode(), signature(SECRET, body).encode())]


# -- good deliveries ------------------------------------------------------------------------------


def test_a_good_delivery_is_stored_raw_and_answered_at_once(client: Client, no_x, django_capture_on_commit_callbacks):
    # given a body as X formats it, byte for byte (indentation, non-ASCII text)
    body = GOOD_BODY.replace(b"Hello World!", "Grüße 👋".encode())

    # when X posts it (callbacks captured: nothing runs after commit yet)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, body)

    # then it is answered 200, stored exactly, and not processed inside the request
    assert response.status_code == 200, response.content
    delivery = WebhookDelivery.objects.get()
    assert response.json() == {"received": True, "delivery_id": delivery.pk}
    assert delivery.body.encode() == body
    assert delivery.status == WebhookDelivery.Status.RECEIVED
    assert Message.objects.count() == 0
    assert len(callbacks) == 1


def call_view(request: Any) -> Any:
    """The view itself, without Django's handler (it is async, as under ASGI)."""
    return async_to_sync(webhook)(request)


@pytest.fixture
def listening(settings) -> Iterator[psycopg.Connection]:
    """A session LISTENing on the deliveries' channel, as the workers' ingest listeners do; tasks not inline."""
    if connection.vendor != "postgresql":
        pytest.fail("Deliveries are announced with PostgreSQL's NOTIFY; run with DATABASE_URL set.")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None, host=db["HOST"] or None,
        port=db["PORT"] or None, autocommit=True,
    ) as listener:  # fmt: skip
        listener.execute(f"LISTEN {deliveries.NOTIFY_CHANNEL}")
        yield listener


@pytest.mark.django_db(transaction=True)
def test_a_good_delivery_is_announced_to_the_listeners_when_it_commits_and_not_before(
    client: Client, listening: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
):
    # given no broker at all: whatever enqueued a task here would fail the test
    def no_broker() -> None:
        raise AssertionError("a webhook POST must not need a Celery task")

    monkeypatch.setattr(task(WEBHOOK_DELIVERIES_DRAIN), "delay", no_broker)

    # when a delivery is stored inside a transaction that has not committed yet
    with transaction.atomic():
        stored = deliveries.deliveries_receive(bodies=[GOOD_BODY.decode()])
        # then nobody has heard of it yet
        assert list(listening.notifies(timeout=0.2)) == []

    # and at commit, the listeners are told
    heard = list(listening.notifies(timeout=10, stop_after=1))
    assert [n.channel for n in heard] == [deliveries.NOTIFY_CHANNEL]
    assert WebhookDelivery.objects.get(pk=stored[0].pk).status == WebhookDelivery.Status.RECEIVED

    # and a POST through the endpoint is announced the same way
    assert post(client, GOOD_BODY).status_code == 200
    assert [n.channel for n in listening.notifies(timeout=10, stop_after=1)] == [deliveries.NOTIFY_CHANNEL]
    assert webhook_deliveries_drain.name == "twitter_channel.webhook_deliveries_drain"


def test_a_body_of_exactly_the_limit_is_accepted_and_one_byte_more_is_not(client: Client, settings):
    settings.X_WEBHOOK_MAX_BYTES = 300
    exact = b'{"for_user_id": "1"' + b" " * (300 - 20) + b"}"
    assert len(exact) == 300

    assert post(client, exact).status_code == 200
    assert post(client, exact[:-1] + b" }").status_code == 413
    assert WebhookDelivery.objects.count() == 1


def test_charset_utf8_in_the_content_type_is_accepted(client: Client):
    response = post(client, GOOD_BODY, content_type="application/json; charset=UTF-8")

    assert response.status_code == 200
    assert WebhookDelivery.objects.count() == 1


# -- refusals -------------------------------------------------------------------------------------

TRUNCATED = GOOD_BODY[: len(GOOD_BODY) // 2]


@pytest.mark.parametrize(
    ("body", "options", "status", "words"),
    [
        (GOOD_BODY, {"headers": {"x-twitter-webhooks-signature": ""}}, 403, "header is missing"),
        (GOOD_BODY, {"headers": {"x-twitter-webhooks-signature": "sha256=AAAA"}}, 403, "does not match"),
        (GOOD_BODY, {"headers": {"x-twitter-webhooks-signature": "garbage"}}, 403, "does not match"),
        (GOOD_BODY, {"secret": "not-the-consumer-secret"}, 403, "does not match"),
        (GOOD_BODY, {"sign_as": GOOD_BODY + b"\n"}, 403, "does not match"),
        (GOOD_BODY, {"sign_as": b'{"for_user_id":"1"}'}, 403, "does not match"),
        (GOOD_BODY, {"content_type": "text/plain"}, 415, "must be application/json"),
        (GOOD_BODY, {"content_type": "application/x-www-form-urlencoded"}, 415, "must be application/json"),
        (GOOD_BODY, {"content_type": ""}, 415, "missing"),
        (GOOD_BODY, {"content_type": "application/json; charset=latin-1"}, 415, "UTF-8"),
        (b"\x00\xff\xfe garbage \x80", {}, 400, "not valid UTF-8"),
        (b"hello, this is not JSON", {}, 400, "not valid JSON"),
        (TRUNCATED, {}, 400, "not valid JSON"),
        (b"  \n", {}, 400, "not valid JSON"),
        (b'[{"for_user_id": "1"}]', {}, 400, "not an array"),
        (b'"for_user_id"', {}, 400, "not a string"),
        (b"null", {}, 400, "not null"),
        (b"[" * 100_000, {}, 400, "nested too deeply"),
        (b'{"a":' * 64 + b"[1]" + b"}" * 64, {}, 400, "nested too deeply (more than 64 levels)"),
        (b'{"n": ' + b"9" * 4301 + b"}", {}, 400, "(4301 digits) does not fit in 64 bits"),
        (b'{"n": -' + b"9" * 5000 + b"}", {}, 400, "(5000 digits) does not fit in 64 bits"),
        (b'{"n": 18446744073709551616}', {}, 400, "18446744073709551616 (20 digits) does not fit in 64 bits"),
        (b'{"n": NaN}', {}, 400, "NaN is not a JSON number"),
        (b'{"n": [Infinity]}', {}, 400, "Infinity is not a JSON number"),
        (b'{"n": -Infinity}', {}, 400, "-Infinity is not a JSON number"),
        (b'{"n": 1e999999}', {}, 400, "the number 1e999999 is too large to hold"),
    ],
    ids=[
        "no-signature",
        "bad-signature",
        "signature-without-prefix",
        "signed-with-another-secret",
        "signature-of-other-bytes",
        "signature-of-another-body",
        "text-plain",
        "form-encoded",
        "no-content-type",
        "latin-1",
        "garbage-bytes",
        "garbage-text",
        "truncated-json",
        "blank",
        "json-array",
        "json-string",
        "json-null",
        "deeply-nested",
        "deeper-than-64",
        "huge-integer",
        "huge-negative-integer",
        "just-over-64-bits",
        "nan",
        "infinity",
        "minus-infinity",
        "float-overflow",
    ],
)
def test_a_bad_delivery_is_refused_and_nothing_is_stored(
    client: Client, body: bytes, options: dict[str, Any], status: int, words: str
):
    assert_refused(post(client, body, **options), status, words)


def test_a_request_with_no_signature_header_at_all_is_403(client: Client):
    response = client.post(URL, data=GOOD_BODY, content_type="application/json")

    assert_refused(response, 403, "x-twitter-webhooks-signature header is missing")


def test_a_huge_body_is_413(client: Client):
    huge = b'{"padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'

    assert_refused(post(client, huge), 413, "larger than this webhook accepts")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(client: Client, method: str):
    response = getattr(client, method)(URL, data=GOOD_BODY, content_type="application/json")

    assert_refused(response, 405, "not allowed")
    assert response["Allow"] == "GET, POST"


# -- the body is never read past the limit --------------------------------------------------------


class CountingStream(io.RawIOBase):
    """A request body that counts the bytes handed out."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)
        self.handed_out = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.data.read(size)
        self.handed_out += len(chunk)
        return chunk


def wsgi_post(body: CountingStream, content_length: str | None) -> WSGIRequest:
    request = RequestFactory().post(URL, data=b"", content_type="application/json")
    environ = dict(request.environ, **{"wsgi.input": body})
    environ.pop("CONTENT_LENGTH", None)
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    environ["HTTP_X_TWITTER_WEBHOOKS_SIGNATURE"] = "sha256=AAAA"
    return WSGIRequest(environ)


def test_a_declared_content_length_over_the_limit_is_refused_before_reading_anything(settings):
    settings.X_WEBHOOK_MAX_BYTES = 1000
    stream = CountingStream(b"x" * 50_000)

    response = call_view(wsgi_post(stream, "50000"))

    assert_refused(response, 413, "larger than")
    assert stream.handed_out == 0


def test_a_body_without_content_length_is_read_only_to_the_limit_plus_one(settings):
    # given an ASGI request (the server has spooled the body; no Content-Length, as with chunked transfer)
    settings.X_WEBHOOK_MAX_BYTES = 1000
    stream = CountingStream(b"x" * 5 * 1024 * 1024)
    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"x-twitter-webhooks-signature", b"sha256=AAAA")],
    }

    # when
    response = call_view(ASGIRequest(scope, stream))

    # then
    assert_refused(response, 413, "larger than")
    assert stream.handed_out == 1001


def test_a_content_length_that_is_not_a_number_is_400():
    response = call_view(wsgi_post(CountingStream(GOOD_BODY), "12abc"))

    assert_refused(response, 400, "Content-Length is not a number")


def test_a_database_that_cannot_store_the_delivery_answers_503_not_500(client: Client, monkeypatch):
    def fail(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("the database is down")

    monkeypatch.setattr(deliveries, "rows_insert", fail)  # the INSERT of the delivery

    assert_refused(post(client, GOOD_BODY), 503, "send it again")
