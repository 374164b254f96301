"""XClient's own rules, with ``responses``: token renewal, transport failures, malformed answers, paging,
argument checks before any I/O, media processing waits and downloads."""

from __future__ import annotations

import copy
import json
import pickle
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses

from tests.twitter_channel.test_client_fixtures import BASE, TIMEOUT, USER_TOKEN, add, load, make_client, query, rsps
from twitter_channel.client import StaticUserAuth, XClient
from twitter_channel.x_errors import AuthError, MalformedResponse, PermanentError, RateLimited, Transient
from twitter_channel.x_results import DmEventPage

__all__ = ["rsps"]  # the fixture, shared with test_client_fixtures

REAL_401 = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
ME = load("tweepy_v2_get_users_me.cassette.json")[0]["response"]["body"]
CONVERSATION = "750362064426721281-1072250532645998596"
CONVERSATION_PAGE = load("tweepy_v2_manage_and_lookup_dms.cassette.json")[4]["response"]["body"]
EMPTY_PAGE = load("tweepy_v2_manage_and_lookup_dms.cassette.json")[3]["response"]["body"]


class RenewingAuth:
    """A UserAuth whose first token X will reject; ``renew`` hands out the next one."""

    def __init__(self, *tokens: str | None) -> None:
        self.tokens = list(tokens)
        self.renewed: list[str] = []

    def access_token(self) -> str:
        return self.tokens[0]

    def renew(self, rejected: str) -> str | None:
        self.renewed.append(rejected)
        return self.tokens[1] if len(self.tokens) > 1 else None


def bearer(call: Any) -> str:
    return call.request.headers["Authorization"]


# --- 401 and renewal ---------------------------------------------------------------------------------------


def test_a_401_renews_the_token_and_retries_once(rsps):
    add(rsps, "GET", "/2/users/me", REAL_401, status=401)
    add(rsps, "GET", "/2/users/me", ME)
    auth = RenewingAuth("old-token", "new-token")

    result = make_client(user_auth=auth).me()

    assert result.user.username == "TweepyDev"
    assert auth.renewed == ["old-token"]
    assert [bearer(c) for c in rsps.calls] == ["Bearer old-token", "Bearer new-token"]


def test_a_second_401_is_an_auth_error(rsps):
    add(rsps, "POST", "/2/dm_conversations/with/1/messages", REAL_401, status=401)
    auth = RenewingAuth("old-token", "new-token")

    with pytest.raises(AuthError) as caught:
        make_client(user_auth=auth).dm_send_to_participant("1", text="hi")

    assert auth.renewed == ["old-token"]
    assert [bearer(c) for c in rsps.calls] == ["Bearer old-token", "Bearer new-token"]
    assert (caught.value.status, str(caught.value)) == (
        401,
        "POST /2/dm_conversations/with/1/messages: 401 Unauthorized",
    )


@pytest.mark.parametrize("renewed", [None, "old-token"], ids=["no-new-token", "same-token"])
def test_no_retry_without_a_different_token(rsps, renewed):
    add(rsps, "GET", "/2/users/me", REAL_401, status=401)
    auth = RenewingAuth("old-token", renewed)

    with pytest.raises(AuthError):
        make_client(user_auth=auth).me()

    assert auth.renewed == ["old-token"] and len(rsps.calls) == 1


def test_app_only_401_is_an_auth_error_without_renewal(rsps):
    add(rsps, "GET", "/2/webhooks", REAL_401, status=401)
    auth = RenewingAuth("user-token", "other")

    with pytest.raises(AuthError):
        make_client(user_auth=auth).webhooks()

    assert auth.renewed == [] and bearer(rsps.calls[0]) == "Bearer app-bearer"


def test_v1_invalid_token_code_89_is_an_auth_error(rsps):
    body = {"errors": [{"code": 89, "message": "Invalid or expired token."}]}
    add(rsps, "POST", "/1.1/direct_messages/indicate_typing.json", body, status=400)

    with pytest.raises(AuthError, match=r"Invalid or expired token\. \(code 89\)"):
        make_client().indicate_typing("1")


def test_calls_without_the_needed_credentials_fail_before_any_io(rsps):
    no_user = XClient(app_bearer="app", base_url=BASE, timeout=TIMEOUT)
    no_app = XClient(user_auth=StaticUserAuth("t"), base_url=BASE, timeout=TIMEOUT)

    with pytest.raises(RuntimeError, match=r"GET /2/users/me acts as an X account: build XClient\(user_auth=...\)"):
        no_user.me()
    with pytest.raises(RuntimeError, match="user_auth"):
        no_user.dm_events_pages()  # checked when called, not at the first next()
    with pytest.raises(RuntimeError, match=r"GET /2/webhooks needs the app's bearer token"):
        no_app.webhooks()
    assert len(rsps.calls) == 0


def test_errors_survive_pickling_with_their_fields(rsps):
    headers = {"x-rate-limit-limit": "15", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1700000900"}
    add(rsps, "GET", "/2/dm_events", {"title": "Too Many Requests", "status": 429}, status=429, headers=headers)
    with pytest.raises(RateLimited) as caught:
        make_client().dm_events_page()

    copied = pickle.loads(pickle.dumps(caught.value))

    assert type(copied) is RateLimited and str(copied) == str(caught.value) == "GET /2/dm_events: 429 Too Many Requests"
    assert (copied.reset_at, copied.status, copied.rate_limit) == (caught.value.reset_at, 429, caught.value.rate_limit)


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


def test_a_media_redirect_is_followed(rsps):
    cdn = "https://video.twimg.com/dm_gif/1/abc.mp4"
    rsps.add("GET", MEDIA_URL, status=302, headers={"Location": cdn})
    rsps.add("GET", cdn, body=b"mp4", content_type="video/mp4")

    assert make_client().media_download(MEDIA_URL) == (b"mp4", "video/mp4")
    assert [c.request.url for c in rsps.calls] == [MEDIA_URL, cdn]


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


# --- malformed success answers ----------------------------------------------------------------------------


MALFORMED: list[tuple[str, str, str, Any, Callable[[XClient], Any]]] = [
    ("html", "GET", "/2/dm_events", "<html>Something went wrong</html>", lambda c: c.dm_events_page()),
    ("empty-body", "GET", "/2/users/me", "", lambda c: c.me()),
    ("list-body", "GET", "/2/users/me", [], lambda c: c.me()),
    (
        "no-data",
        "POST",
        "/2/dm_conversations/with/1/messages",
        {"meta": {}},
        lambda c: c.dm_send_to_participant("1", text="x"),
    ),
    (
        "null-event-id",
        "POST",
        "/2/dm_conversations/with/1/messages",
        {"data": {"dm_conversation_id": "1-2", "dm_event_id": None}},
        lambda c: c.dm_send_to_participant("1", text="x"),
    ),
    ("nothing-of-a-page", "GET", "/2/dm_events", {"includes": {}}, lambda c: c.dm_events_page()),
    (
        "data-not-a-list",
        "GET",
        "/2/dm_events",
        {"data": {"id": "1"}, "meta": {"result_count": 1}},
        lambda c: c.dm_events_page(),
    ),
    (
        "include-user-without-username",
        "GET",
        "/2/dm_events",
        {"data": [], "includes": {"users": [{"id": "1", "name": "x"}]}, "meta": {"result_count": 0}},
        lambda c: c.dm_events_page(),
    ),
    ("single-event-a-string", "GET", "/2/dm_events/1", {"data": "1"}, lambda c: c.dm_event("1")),
    (
        "webhook-without-valid",
        "GET",
        "/2/webhooks",
        {"data": [{"id": "1", "url": "https://x"}]},
        lambda c: c.webhooks(),
    ),
    ("deleted-as-string", "DELETE", "/2/webhooks/1", {"data": {"deleted": "true"}}, lambda c: c.webhook_delete("1")),
    ("count-without-data", "GET", "/2/account_activity/subscriptions/count", {}, lambda c: c.subscription_count()),
    (
        "media-id-not-numeric",
        "POST",
        "/2/media/upload/initialize",
        {"data": {"id": "abc"}},
        lambda c: c.media_upload(b"x", media_type="image/png", media_category="dm_image"),
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "call"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_2xx_that_is_not_the_documented_json_is_malformed(rsps, method, path, body, call):
    add(rsps, method, path, body, status=201 if method == "POST" else 200)

    with pytest.raises(MalformedResponse) as caught:
        call(make_client())

    assert isinstance(caught.value, Transient)
    assert str(caught.value).startswith(f"{method} {path}: ")
    assert caught.value.status in (200, 201)


def _mutations(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, replacement) for every node: removed (None marker), and swapped for values of other types."""
    if path:
        for replacement in ("__delete__", None, 7, "x", True, [], {}, [7], {"id": 7}):
            yield path, replacement
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _mutations(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _mutations(item, (*path, index))


def _mutated(body: Any, path: tuple, replacement: Any) -> Any:
    body = copy.deepcopy(body)
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if replacement == "__delete__":
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return body


SHAPES: list[tuple[str, str, str, Callable[[XClient], Any]]] = [
    ("v2_get_dm_events_with_expansions.docs.json", "GET", "/2/dm_events", lambda c: c.dm_events_page()),
    (
        "v2_post_dm_with_participant_response.docs.json",
        "POST",
        "/2/dm_conversations/with/1/messages",
        lambda c: c.dm_send_to_participant("1", text="x"),
    ),
    ("v2_webhooks_list_response.docs.json", "GET", "/2/webhooks", lambda c: c.webhooks()),
    (
        "v2_aaa_subscriptions_list_response.docs.json",
        "GET",
        "/2/account_activity/webhooks/1/subscriptions/all/list",
        lambda c: c.subscriptions("1"),
    ),
    (
        "v2_aaa_subscriptions_count_response.docs.json",
        "GET",
        "/2/account_activity/subscriptions/count",
        lambda c: c.subscription_count(),
    ),
    (
        "v2_media_upload_init_response.docs.json",
        "POST",
        "/2/media/upload/initialize",
        lambda c: c.media_upload(b"x", media_type="image/png", media_category="dm_image"),
    ),
]


@pytest.mark.parametrize(("name", "method", "path", "call"), SHAPES, ids=[s[0] for s in SHAPES])
def test_no_mutation_of_a_recorded_answer_escapes_as_anything_but_a_result_or_malformed(name, method, path, call):
    original = load(name)
    outcomes: dict[str, int] = {"ok": 0, "malformed": 0}
    for where, replacement in _mutations(original):
        body = _mutated(original, where, replacement)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.add(method, BASE + path, body=json.dumps(body), status=200, content_type="application/json")
            # The upload continues past initialize when the id survives: fail those later steps as 5xx.
            mock.add("POST", re.compile(re.escape(BASE) + r"/2/media/upload/\d+/append"), status=503)
            try:
                call(make_client())
            except MalformedResponse:
                outcomes["malformed"] += 1
            except Transient as exc:
                assert exc.status == 503, f"{where} -> {replacement!r}: {exc}"
                outcomes["ok"] += 1
            else:
                outcomes["ok"] += 1
    assert outcomes["malformed"] > 0 and outcomes["ok"] > 0, outcomes


# --- paging ------------------------------------------------------------------------------------------------


def test_paging_follows_a_short_page_with_a_token_to_the_real_empty_page(rsps):
    path = f"/2/dm_conversations/{CONVERSATION}/dm_events"
    add(rsps, "GET", path, CONVERSATION_PAGE)
    add(rsps, "GET", path, EMPTY_PAGE)

    pages = list(make_client().conversation_events_pages(CONVERSATION, max_results=50))

    assert [[e.text for e in p.events] for p in pages] == [["Testing 2", "Testing 1"]]
    assert len(rsps.calls) == 2
    assert "pagination_token" not in query(rsps.calls[0])
    assert query(rsps.calls[1])["pagination_token"] == "18LAA5G1SL0NR5OG0G00ZZZZ"
    assert query(rsps.calls[1])["max_results"] == "50"


def _page(*ids: str, next_token: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"result_count": len(ids)}
    if next_token:
        meta["next_token"] = next_token
    return {"data": [{"id": i, "event_type": "MessageCreate", "text": f"m{i}"} for i in ids], "meta": meta}


def test_paging_stops_at_a_page_without_next_token(rsps):
    for body in (
        _page("5", "4", next_token="TOKEN000000000001"),
        _page("3", "2", next_token="TOKEN000000000002"),
        _page("1", next_token=None),
    ):
        add(rsps, "GET", "/2/dm_conversations/with/1/dm_events", body)

    pages = list(make_client().participant_events_pages("1", max_results=2))

    assert [[e.id for e in p.events] for p in pages] == [["5", "4"], ["3", "2"], ["1"]]
    assert [query(c).get("pagination_token") for c in rsps.calls] == [None, "TOKEN000000000001", "TOKEN000000000002"]


def test_paging_stops_after_max_pages(rsps):
    add(rsps, "GET", "/2/dm_events", _page("5", "4", next_token="TOKEN000000000001"))

    pages = list(make_client().dm_events_pages(max_results=2, max_pages=1))

    assert len(pages) == 1 and len(rsps.calls) == 1


def test_paging_an_empty_inbox_yields_nothing(rsps):
    add(rsps, "GET", "/2/dm_events", EMPTY_PAGE)

    assert list(make_client().dm_events_pages()) == [] and len(rsps.calls) == 1


def test_paging_stops_when_x_repeats_the_token(rsps):
    add(rsps, "GET", "/2/dm_events", _page("5", next_token="SAME0000000000000"))
    add(rsps, "GET", "/2/dm_events", _page("4", next_token="SAME0000000000000"))

    pages = list(make_client().dm_events_pages(event_types=["MessageCreate"]))

    assert [p.events[0].id for p in pages] == ["5", "4"] and len(rsps.calls) == 2


def test_pages_are_dm_event_pages_with_rate_limits(rsps):
    add(rsps, "GET", "/2/dm_events", _page("5", next_token=None), headers={"x-rate-limit-remaining": "14"})

    (page,) = make_client().dm_events_pages()

    assert isinstance(page, DmEventPage) and page.rate_limit.remaining == 14


# --- argument checks (no I/O) ------------------------------------------------------------------------------


INVALID: list[tuple[str, Callable[[XClient], Any], str]] = [
    (
        "participant-not-numeric",
        lambda c: c.dm_send_to_participant("@maria", text="x"),
        "participant_id must be a numeric",
    ),
    ("participant-int", lambda c: c.dm_send_to_participant(2244994945, text="x"), "participant_id must be a numeric"),
    ("id-too-long", lambda c: c.user("1" * 20), "user_id must be a numeric"),
    ("no-text-no-media", lambda c: c.dm_send_to_participant("1"), "a DM needs text or a media_id"),
    ("text-not-str", lambda c: c.dm_send_to_participant("1", text=None), "text must be a string"),
    ("media-id-bad", lambda c: c.dm_send_to_participant("1", media_id="3_123"), "media_id must be a numeric"),
    ("conversation-bad", lambda c: c.dm_send_to_conversation("123-", text="x"), "conversation_id must be"),
    ("conversation-short-group", lambda c: c.conversation_events_page("12345"), "conversation_id must be"),
    ("group-of-one", lambda c: c.dm_group_create(["1"], text="x"), r"must hold 2 to 49 ids \(got 1\)"),
    ("group-of-fifty", lambda c: c.dm_group_create([str(i) for i in range(1, 51)], text="x"), "got 50"),
    ("group-repeats", lambda c: c.dm_group_create(["1", "1"], text="x"), "repeats an id"),
    ("group-string", lambda c: c.dm_group_create("12", text="x"), "must be a list of id strings"),
    ("max-results-0", lambda c: c.dm_events_page(max_results=0), "max_results must be an integer from 1 to 100"),
    ("max-results-101", lambda c: c.participant_events_pages("1", max_results=101), "from 1 to 100"),
    ("event-type-unknown", lambda c: c.dm_events_page(event_types=["MessageDelete"]), "event_types must be some of"),
    ("event-types-empty", lambda c: c.dm_events_page(event_types=[]), "event_types must be some of"),
    ("max-pages-0", lambda c: c.dm_events_pages(max_pages=0), "max_pages must be a positive integer"),
    ("token-empty", lambda c: c.dm_events_page(pagination_token=""), "pagination_token must be a non-empty"),
    ("username-at", lambda c: c.user_by_username("@maria_codes"), "username must be 1 to 15"),
    ("users-none", lambda c: c.users([]), r"must hold 1 to 100 ids \(got 0\)"),
    ("users-too-many", lambda c: c.users([str(i) for i in range(1, 102)]), "got 101"),
    ("webhook-url", lambda c: c.webhook_create("ftp://example.com/hook"), "must be an absolute URL"),
    (
        "media-category",
        lambda c: c.media_upload(b"x", media_type="image/png", media_category="dm_photo"),
        "media_category must be one of",
    ),
    (
        "media-type",
        lambda c: c.media_upload(b"x", media_type="image/svg+xml", media_category="dm_image"),
        "media_type must be one of",
    ),
    (
        "media-empty",
        lambda c: c.media_upload(b"", media_type="image/png", media_category="dm_image"),
        "non-empty bytes",
    ),
    (
        "chunk-too-big",
        lambda c: c.media_upload(b"x", media_type="image/png", media_category="dm_image", chunk_size=6 * 1024 * 1024),
        "chunk_size must be from 1 to",
    ),
    (
        "too-many-segments",
        lambda c: c.media_upload(b"x" * 1001, media_type="image/png", media_category="dm_image", chunk_size=1),
        "more than 1000 segments",
    ),
    (
        "download-elsewhere",
        lambda c: c.media_download("https://evil.example/x.jpg"),
        "refusing to send the account's token",
    ),
    ("download-http-x", lambda c: c.media_download("http://ton.twitter.com/x.jpg"), "refusing"),
    ("webhook-id", lambda c: c.webhook_delete("abc"), "webhook_id must be a numeric"),
    ("mark-read-event", lambda c: c.mark_read("1", "last"), "last_read_event_id must be a numeric"),
]


@pytest.mark.parametrize(("call", "message"), [i[1:] for i in INVALID], ids=[i[0] for i in INVALID])
def test_bad_arguments_fail_before_any_io(rsps, call, message):
    with pytest.raises(ValueError, match=message):
        call(make_client())

    assert len(rsps.calls) == 0


# --- media processing and download -------------------------------------------------------------------------


def _upload_until_status(rsps: responses.RequestsMock, *statuses: dict[str, Any]) -> None:
    media_id = "1880028106020515840"
    add(rsps, "POST", "/2/media/upload/initialize", load("v2_media_upload_init_response.docs.json"))
    add(rsps, "POST", f"/2/media/upload/{media_id}/append", status=204, body="")
    add(rsps, "POST", f"/2/media/upload/{media_id}/finalize", load("v2_media_upload_finalize_response.docs.json"))
    for info in statuses:
        add(
            rsps,
            "GET",
            "/2/media/upload",
            {"data": {"id": media_id, "media_key": "7_1880028106020515840", "processing_info": info}},
        )


def test_failed_processing_is_permanent_with_x_reason(rsps):
    _upload_until_status(
        rsps,
        {"state": "in_progress", "check_after_secs": 3, "progress_percent": 40},
        {
            "state": "failed",
            "progress_percent": 40,
            "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"},
        },
    )
    naps: list[float] = []

    with pytest.raises(PermanentError) as caught:
        make_client(sleep=naps.append).media_upload(b"vid", media_type="video/mp4", media_category="dm_video")

    assert naps == [1.0, 3.0]
    assert (caught.value.title, caught.value.detail) == ("InvalidMedia", "Unsupported video format")
    assert "media 1880028106020515840 failed processing" in str(caught.value)


def test_processing_longer_than_max_media_wait_is_transient(rsps):
    _upload_until_status(rsps, {"state": "in_progress", "check_after_secs": 5})
    naps: list[float] = []

    with pytest.raises(Transient, match=r"still in_progress after 6s of waiting"):
        make_client(sleep=naps.append, max_media_wait=10).media_upload(
            b"v", media_type="video/mp4", media_category="dm_video"
        )

    assert naps == [1.0, 5.0]


MEDIA_URL = "https://ton.twitter.com/1.1/ton/data/dm/1585321444547837956/1585321437623029760/abc.jpg"


def test_media_download_sends_the_user_token_and_returns_bytes(rsps):
    rsps.add("GET", MEDIA_URL, body=b"\xff\xd8jpeg-bytes", content_type="image/jpeg")

    content, content_type = make_client().media_download(MEDIA_URL)

    assert (content, content_type) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    assert bearer(rsps.calls[0]) == f"Bearer {USER_TOKEN}" and rsps.calls[0].request.req_kwargs["stream"] is True


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_media_download_stops_over_max_bytes(rsps, declared):
    rsps.add("GET", MEDIA_URL, body=b"x" * 5000, content_type="image/jpeg", auto_calculate_content_length=declared)

    with pytest.raises(PermanentError, match="larger than the 4096 bytes allowed"):
        make_client().media_download(MEDIA_URL, max_bytes=4096)


def test_media_download_of_a_missing_file_is_not_found(rsps):
    rsps.add("GET", MEDIA_URL, status=404, body="")

    with pytest.raises(PermanentError, match=r"GET /1.1/ton/data/dm/.*: 404 Not Found"):
        make_client().media_download(MEDIA_URL)


def test_media_download_from_the_api_host(rsps):
    url = f"{BASE}/2/dm_conversations/media/1585321444547837956/1585321437623029760/1"
    rsps.add("GET", url, body=b"GIF89a", content_type="image/gif")

    assert make_client().media_download(url) == (b"GIF89a", "image/gif")
