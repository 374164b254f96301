"""XClient's paging, with ``responses``: it follows next_token, stops at the last page, after max_pages,
and when X repeats a token."""

from __future__ import annotations

from typing import Any

from tests.twitter_channel.x.client_replay import add, load, make_client, query, rsps
from twitter_channel.x.results import DmEventPage

__all__ = ["rsps"]  # the fixture, from client_replay

CONVERSATION = "750362064426721281-1072250532645998596"
CONVERSATION_PAGE = load("tweepy_v2_manage_and_lookup_dms.cassette.json")[4]["response"]["body"]
EMPTY_PAGE = load("tweepy_v2_manage_and_lookup_dms.cassette.json")[3]["response"]["body"]


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
