"""XClient checks its arguments before any I/O: ids, texts, group sizes, paging options, media, URLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.twitter_channel.x.client_replay import make_client, rsps
from twitter_channel.x.client import XClient

__all__ = ["rsps"]  # the fixture, from client_replay


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
