"""XClient's HTTP transport, with ``responses``: connection failures and 5xx are transient, API redirects
are not followed, every request carries the timeout tuple, defaults come from settings, errors pickle."""

from __future__ import annotations

import pickle

import pytest
import requests
import responses

from tests.twitter_channel.x.client_replay import BASE, ME, TIMEOUT, add, make_client, rsps
from twitter_channel.x.client import StaticUserAuth, XClient
from twitter_channel.x.errors import PermanentError, RateLimited, Transient

__all__ = ["rsps"]  # the fixture, from client_replay


# --- transport failures and 5xx ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (requests.ConnectTimeout("connect timed out"), "GET /2/dm_events: could not connect within 3.05s"),
        (requests.ReadTimeout("read timed out"), "GET /2/dm_events: no answer within 7.5s"),
        (
            requests.ConnectionError("Connection reset by peer"),
            "GET /2/dm_events: the connection failed: Connection reset by peer",
        ),
        (
            requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
            "GET /2/dm_events: the answer broke off: Connection broken: IncompleteRead",
        ),
    ],
    ids=["connect-timeout", "read-timeout", "reset", "chunked"],
)
def test_transport_failures_are_transient(rsps, exc, message):
    rsps.add("GET", f"{BASE}/2/dm_events", body=exc)

    with pytest.raises(Transient) as caught:
        make_client().dm_events_page()

    assert type(caught.value) is Transient
    assert str(caught.value) == message
    assert (caught.value.method, caught.value.url, caught.value.status) == ("GET", f"{BASE}/2/dm_events", None)
    assert isinstance(caught.value.__cause__, type(exc))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(rsps, status):
    body = {"title": "Service Unavailable", "type": "about:blank", "status": status, "detail": "Service Unavailable"}
    add(
        rsps,
        "POST",
        "/2/dm_conversations/with/1/messages",
        body,
        status=status,
        content_type="application/problem+json",
    )

    with pytest.raises(Transient) as caught:
        make_client().dm_send_to_participant("1", text="hi")

    assert type(caught.value) is Transient
    assert (caught.value.status, caught.value.title) == (status, "Service Unavailable")


def test_an_html_error_page_is_transient_with_the_status_phrase(rsps):
    rsps.add(
        "GET",
        f"{BASE}/2/users/me",
        body="<html><body>Over capacity</body></html>",
        status=502,
        content_type="text/html",
    )

    with pytest.raises(Transient) as caught:
        make_client().me()

    assert str(caught.value) == "GET /2/users/me: 502 Bad Gateway"
    assert caught.value.body.startswith("<html>")


def test_an_api_redirect_is_not_followed(rsps):
    moved = "https://api.x.com/2/dm_conversations/with/1/messages"
    add(rsps, "POST", "/2/dm_conversations/with/1/messages", "", status=301, headers={"Location": moved})

    with pytest.raises(PermanentError, match=r"POST /2/dm_conversations/with/1/messages: 301 Moved Permanently"):
        make_client().dm_send_to_participant("1", text="hi")

    assert len(rsps.calls) == 1


def test_every_request_carries_the_timeout_tuple(rsps):
    add(rsps, "GET", "/2/users/me", ME)

    make_client().me()

    assert rsps.calls[0].request.req_kwargs["timeout"] == TIMEOUT


def test_defaults_come_from_settings(settings):
    settings.X_API_BASE_URL = "https://api.example.test/"
    settings.X_CONNECT_TIMEOUT, settings.X_READ_TIMEOUT = 1.5, 9.0

    client = XClient(user_auth=StaticUserAuth("t"))
    with responses.RequestsMock() as mock:
        mock.add("GET", "https://api.example.test/2/users/me", json=ME)
        client.me()
        sent_timeout = mock.calls[0].request.req_kwargs["timeout"]

    assert (client.base_url, client.timeout, sent_timeout) == ("https://api.example.test", (1.5, 9.0), (1.5, 9.0))


# --- errors cross process boundaries (Celery) ----------------------------------------------------------------


def test_errors_survive_pickling_with_their_fields(rsps):
    headers = {"x-rate-limit-limit": "15", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1700000900"}
    add(rsps, "GET", "/2/dm_events", {"title": "Too Many Requests", "status": 429}, status=429, headers=headers)
    with pytest.raises(RateLimited) as caught:
        make_client().dm_events_page()

    copied = pickle.loads(pickle.dumps(caught.value))

    assert type(copied) is RateLimited and str(copied) == str(caught.value) == "GET /2/dm_events: 429 Too Many Requests"
    assert (copied.reset_at, copied.status, copied.rate_limit) == (caught.value.reset_at, 429, caught.value.rate_limit)
