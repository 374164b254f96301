"""XClient, with ``responses``: a 2xx that is not the documented JSON is MalformedResponse (a Transient),
and no mutation of a recorded answer escapes as anything but a result or MalformedResponse."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from tests.twitter_channel.x.client_replay import BASE, add, load, make_client, rsps
from twitter_channel.x.client import XClient
from twitter_channel.x.errors import MalformedResponse, Transient

__all__ = ["rsps"]  # the fixture, from client_replay


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


def test_a_malformed_answer_names_where_in_the_body_it_is_wrong(rsps):
    body = {"data": [], "includes": {"users": [{"id": "1", "name": "x"}]}, "meta": {"result_count": 0}}
    add(rsps, "GET", "/2/dm_events", body)

    with pytest.raises(MalformedResponse) as caught:
        make_client().dm_events_page()

    assert str(caught.value) == (
        "GET /2/dm_events: 200 with a body X does not document: includes.users[0].username: missing"
    )


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
