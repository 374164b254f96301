"""XClient turns X's error answers into typed errors: real and documented error bodies replayed with
``responses``, rate-limit resets read from headers, and the error hierarchy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.twitter_channel.x.client_replay import BASE, add, epoch, load, make_client, rsps
from twitter_channel.x.errors import (
    AuthError,
    MalformedResponse,
    NotFound,
    PermanentError,
    RateLimited,
    Transient,
    XError,
)
from twitter_channel.x.rate_limits import RateLimit, RateWindow

__all__ = ["rsps"]  # the fixture, from client_replay


# --- error bodies --------------------------------------------------------------------------------------------

SEND_PATH = "/2/dm_conversations/with/1/messages"
# x-api.md §4: real error bodies quoted from issue threads (no fixture file holds them).
REAL_401 = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
REAL_403_SCOPES = {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}
REAL_403_MEDIA = {
    "title": "Forbidden",
    "detail": "You are not permitted to attach this media to a DM event.",
    "type": "about:blank",
    "status": 403,
}
REAL_429 = {"title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests"}
CAPTURED_400 = {
    "errors": [
        {
            "parameters": {"max_results": ["0"]},
            "message": "The `max_results` query parameter value [0] is not between 5 and 100",
        }
    ],
    "title": "Invalid Request",
    "detail": "One or more parameters to your request was invalid.",
    "type": "https://api.twitter.com/2/problems/invalid-request",
}


@pytest.mark.parametrize(
    ("body", "status", "error", "title", "detail", "problem_type"),
    [
        (REAL_401, 401, AuthError, "Unauthorized", "Unauthorized", "about:blank"),
        (REAL_403_SCOPES, 403, PermanentError, "Forbidden", "Forbidden", "about:blank"),
        (REAL_403_MEDIA, 403, PermanentError, "Forbidden", REAL_403_MEDIA["detail"], "about:blank"),
        (REAL_429, 429, RateLimited, "Too Many Requests", "Too Many Requests", "about:blank"),
        (
            CAPTURED_400,
            400,
            PermanentError,
            "Invalid Request",
            "One or more parameters to your request was invalid. (The `max_results` query parameter value [0] is not "
            "between 5 and 100)",
            "https://api.twitter.com/2/problems/invalid-request",
        ),
        (
            "v2_error_problem_shape.docs.json",
            400,
            PermanentError,
            "Invalid Request",
            "The 'query' parameter is required.",
            "https://api.x.com/2/problems/invalid-request",
        ),
        (
            "v2_error_client_forbidden.docs.json",
            403,
            PermanentError,
            "Client Forbidden",
            "This request must be made using an approved developer account that is enrolled in the requested endpoint. "
            "Learn more by visiting our documentation.",
            "https://api.x.com/2/problems/client-forbidden",
        ),
        (
            "rate_limit_429_body_as_documented.docs.json",
            429,
            RateLimited,
            "Too Many Requests",
            "Rate limit exceeded (code 88)",
            "",
        ),
        (
            "v1_aaa_enterprise_error_214.docs.json",
            403,
            PermanentError,
            "Forbidden",
            "Too many resources already created. (code 214)",
            "",
        ),
    ],
    ids=["401", "403-scopes", "403-media", "429", "400", "problem-shape", "client-forbidden", "429-v1", "403-v1-214"],
)
def test_error_bodies_become_typed_errors(rsps, body, status, error, title, detail, problem_type):
    body = load(body) if isinstance(body, str) else body
    add(rsps, "POST", SEND_PATH, body, status=status, content_type="application/problem+json")

    with pytest.raises(error) as caught:
        make_client().dm_send_to_participant("1", text="hi", media_id="1234567890123456789")

    err = caught.value
    assert type(err) is error
    assert (err.status, err.title, err.detail, err.problem_type) == (status, title, detail, problem_type)
    assert (err.method, err.url, err.body) == ("POST", BASE + SEND_PATH, body)
    assert err.errors == body.get("errors", [])
    assert str(err) == f"POST {SEND_PATH}: {status} {title}" + (f" — {detail}" if detail != title else "")


def test_the_forbidden_media_message_reads_exactly(rsps):
    add(rsps, "POST", SEND_PATH, REAL_403_MEDIA, status=403, content_type="application/problem+json")

    with pytest.raises(PermanentError) as caught:
        make_client().dm_send_to_participant("1", media_id="1234567890123456789")

    assert str(caught.value) == (
        "POST /2/dm_conversations/with/1/messages: 403 Forbidden — "
        "You are not permitted to attach this media to a DM event."
    )


def test_documented_v1_rate_limit_body_is_rate_limited_even_without_429(rsps):
    add(rsps, "GET", "/2/users/me", load("rate_limit_429_body_as_documented.docs.json"), status=400)

    with pytest.raises(RateLimited) as caught:
        make_client().me()

    assert caught.value.errors == [{"code": 88, "message": "Rate limit exceeded"}]


def test_real_429_reset_comes_from_x_rate_limit_reset_epoch_seconds(rsps):
    headers = {"x-rate-limit-limit": "15", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1666920203"}
    add(rsps, "POST", SEND_PATH, REAL_429, status=429, headers=headers)

    with pytest.raises(RateLimited) as caught:
        make_client().dm_send_to_participant("1", text="hi")

    assert caught.value.reset_at == datetime(2022, 10, 28, 1, 23, 23, tzinfo=UTC)
    assert caught.value.rate_limit.remaining == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # The 24-hour user window is the empty one: wait for it, not for the 15-minute window.
        (
            {
                "x-rate-limit-limit": "15",
                "x-rate-limit-remaining": "9",
                "x-rate-limit-reset": "1700000900",
                "x-user-limit-24hour-limit": "1440",
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": "1700080000",
            },
            epoch(1700080000),
        ),
        (
            {
                "x-rate-limit-limit": "15",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": "1700000900",
                "x-app-limit-24hour-limit": "1440",
                "x-app-limit-24hour-remaining": "0",
                "x-app-limit-24hour-reset": "1700050000",
            },
            epoch(1700050000),
        ),
        ({"x-rate-limit-remaining": "3", "x-rate-limit-reset": "1700000900"}, epoch(1700000900)),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, datetime(2015, 10, 21, 7, 28, tzinfo=UTC)),
    ],
    ids=["user-24h-exhausted", "both-exhausted-latest-wins", "15min", "retry-after-date"],
)
def test_rate_limited_reset_picks_the_exhausted_window(rsps, headers, expected):
    add(rsps, "POST", SEND_PATH, REAL_429, status=429, headers=headers)

    with pytest.raises(RateLimited) as caught:
        make_client().dm_send_to_participant("1", text="hi")

    assert caught.value.reset_at == expected


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "120"}, 120), ({}, 15 * 60)])
def test_rate_limited_without_reset_header_waits_retry_after_or_fifteen_minutes(rsps, headers, wait):
    add(rsps, "GET", "/2/dm_events", load("rate_limit_429_body_as_documented.docs.json"), status=429, headers=headers)

    before = datetime.now(UTC).replace(microsecond=0)  # Retry-After counts whole seconds
    with pytest.raises(RateLimited) as caught:
        make_client().dm_events_page()
    after = datetime.now(UTC)

    assert before + timedelta(seconds=wait) <= caught.value.reset_at <= after + timedelta(seconds=wait)
    assert caught.value.seconds_until_reset <= wait


def test_rate_limit_headers_are_read_tolerantly():
    headers = {
        "X-Rate-Limit-Limit": "300",
        "x-rate-limit-remaining": "lots",
        "x-rate-limit-reset": "",
        "x-user-limit-24hour-limit": "1000",
        "x-user-limit-24hour-remaining": "999",
        "x-user-limit-24hour-reset": "1666920203",
        "x-app-limit-24hour-reset": "-5",
    }

    found = RateLimit.from_headers(headers)

    assert (found.limit, found.remaining, found.reset_at, found.app_24h) == (300, None, None, None)
    assert found.user_24h == RateWindow(1000, 999, datetime(2022, 10, 28, 1, 23, 23, tzinfo=UTC))
    assert RateLimit.from_headers({}) == RateLimit()


def test_user_lookup_answered_with_only_errors_is_not_found(rsps):
    not_found = {
        "errors": [
            {
                "value": "nobody",
                "detail": "Could not find user with username: [nobody].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": "nobody",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    add(rsps, "GET", "/2/users/by/username/nobody", not_found)

    with pytest.raises(NotFound) as caught:
        make_client().user_by_username("nobody")

    assert (caught.value.status, caught.value.title) == (200, "Not Found Error")
    assert (
        str(caught.value)
        == "GET /2/users/by/username/nobody: 200 Not Found Error — Could not find user with username: [nobody]."
    )


def test_errors_are_x_errors():
    assert all(issubclass(e, XError) for e in (RateLimited, Transient, AuthError, PermanentError, MalformedResponse))
    assert issubclass(MalformedResponse, Transient) and issubclass(NotFound, PermanentError)
