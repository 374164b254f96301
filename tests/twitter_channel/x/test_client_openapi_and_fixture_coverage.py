"""XClient's contract with X's files: every fixture in x-fixtures/ is replayed by a client test or excluded here
with the reason, the fields it requests are OpenAPI 2.159's, and every endpoint it calls is in the spec."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import responses

from tests.twitter_channel.x.client_replay import load, make_client, rsps
from tests.xsandbox import FIXTURES
from twitter_channel.x import arguments as x_arguments
from twitter_channel.x.errors import Transient
from twitter_channel.x.results import LOOKUP_FIELDS, USER_FIELDS

__all__ = ["rsps"]  # the fixture, from client_replay

# Fixtures the client does not replay, and why. Everything else in x-fixtures/ must be used by a test_client_* module.
EXCLUDED = {
    # Webhook payloads X POSTs to us: the parser's business (twitter_channel/inbound/parsing), not the client's.
    "aaa_direct_message_events.docs.json": "AAA webhook payload (parser)",
    "aaa_direct_message_indicate_typing_events.docs.json": "AAA webhook payload (parser)",
    "aaa_direct_message_mark_read_events.docs.json": "AAA webhook payload (parser)",
    "aaa_quick_reply_response.koukoku.json": "AAA webhook payload (parser)",
    "aaa_tweet_delete_events.docs.json": "AAA webhook payload (parser)",
    "aaa_user_event_revoke.docs.json": "AAA webhook payload (parser)",
    "v2_aaa_replay_job_complete_event.docs.json": "webhook payload of a replay job (parser)",
    "xaa_dm_received.docs.json": "X Activity API webhook payload (parser)",
    "xaa_dm_sent.docs.json": "X Activity API webhook payload (parser)",
    # Our webhook endpoint answers these; the client never sees them.
    "webhook_crc_response_shape.docs.json": "CRC answer our webhook view sends",
    "v1_aaa_crc_response_example.docs.json": "CRC answer our webhook view sends (v1.1 docs)",
    "webhook_signature_test_vectors.autohook.json": "CRC/signature vectors for the webhook view",
    # v1.1 endpoints the client does not call (it uses v2 for DMs, media and webhooks).
    "tweepy_v1_send_and_delete_dm.cassette.json": "v1.1 direct_messages/events/new + destroy: not called",
    "tweepy_v1_list_dm_events.cassette.json": "v1.1 direct_messages/events/list: not called (v2 lookup instead)",
    "tweepy_v1_media_upload_chunked_mp4.cassette.json": "v1.1 upload.twitter.com chunked upload: v2 upload instead",
    "v1_get_dm_events_list_with_media.pingviini.json": "v1.1 events/list body: not called (parser may use it)",
    "pytwitter_v1_media_upload_init_response.json": "v1.1 media INIT: v2 upload instead",
    "pytwitter_v1_media_upload_finalize_response.json": "v1.1 media FINALIZE: v2 upload instead",
    "pytwitter_v1_media_upload_status_response.json": "v1.1 media STATUS: v2 upload instead",
    "v1_aaa_enterprise_register_webhook_response.docs.json": "v1.1 Enterprise webhook registration: v2 instead",
    # Specs, read by the OpenAPI tests below through their own loader.
    "openapi_dm_excerpt_v2.167.json": "OA 2.167: renamed schemas not seen on the wire; the client builds on 2.159",
    # Public posts (mentions, replies, search): issue 23's, which the client does not call yet. Webhook
    # payloads of posts are the parser's, which names them ignored until then.
    "aaa_favorite_events.docs.json": "AAA webhook payload of a like (parser: ignored family)",
    "aaa_tweet_create_events.docs.json": "AAA webhook payload of a post (parser: ignored until issue 23)",
    "aaa_tweet_create_events_longform.docs.json": "AAA webhook payload of a post (parser: ignored until issue 23)",
    "aaa_tweet_create_events_mention_reply.learnawesome.json": "AAA post payload (parser: ignored until issue 23)",
    "aaa_tweet_create_events_own_account.trackprediction.json": "AAA post payload (parser: ignored until issue 23)",
    "xaa_post_create.docs.json": "X Activity API post payload (parser: ignored until issue 23)",
    "xaa_post_delete.docs.json": "X Activity API post payload (parser: ignored until issue 23)",
    "xaa_post_mention_create.docs.json": "X Activity API post payload (parser: ignored until issue 23)",
    "xaa_post_reply_create.docs.json": "X Activity API post payload (parser: ignored until issue 23)",
    "openapi_posts_excerpt.json": "OpenAPI of the posts endpoints: the client calls none of them yet (issue 23)",
    "pytwitter_v2_get_users_mentions_with_fields.json": "GET /2/users/:id/mentions: not called yet (issue 23)",
    "tweepy_v2_get_users_mentions.cassette.json": "GET /2/users/:id/mentions: not called yet (issue 23)",
    "v2_get_users_mentions_response.docs.json": "GET /2/users/:id/mentions: not called yet (issue 23)",
    "tweepy_v2_create_and_delete_tweet.cassette.json": "POST/DELETE /2/tweets: not called yet (issue 23)",
    "v2_post_tweet_reply_request.docs.json": "POST /2/tweets (a reply): not called yet (issue 23)",
    "v2_post_tweet_response.docs.json": "POST /2/tweets: not called yet (issue 23)",
    "v2_error_duplicate_content_403.iembot.json": "POST /2/tweets refusal: not called yet (issue 23)",
    "v2_error_usage_capped_429.xdk-issue.json": "posts usage cap: not called yet (issue 23)",
    "tweepy_v2_get_tweet.cassette.json": "GET /2/tweets/:id: not called yet (issue 23)",
    "tweepy_v2_get_tweets.cassette.json": "GET /2/tweets: not called yet (issue 23)",
    "v2_get_tweet_conversation_fields.docs.json": "GET /2/tweets/:id: not called yet (issue 23)",
    "v2_get_tweet_with_entities_expansions.trackprediction.json": "GET /2/tweets/:id: not called yet (issue 23)",
    "v2_tweet_edit_history_expansion.docs.json": "GET /2/tweets/:id: not called yet (issue 23)",
    "tweepy_v2_hide_and_unhide_reply.cassette.json": "PUT /2/tweets/:id/hidden: not called yet (issue 23)",
    "tweepy_v2_search_recent_tweets.cassette.json": "GET /2/tweets/search/recent: not called yet (issue 23)",
    "v2_conversation_thread_search_response.docs.json": "GET /2/tweets/search/recent: not called yet (issue 23)",
}
OPENAPI = ("openapi_dm_excerpt.json", "openapi_media_upload_excerpt.json", "openapi_webhooks_aaa_excerpt.json")


# --- every fixture is accounted for; requested fields are OA 2.159's ------------------------------------------


def _used_in_tests() -> set[str]:
    """Fixture file names written anywhere in the client tests (the test_client_* modules and their
    client_replay helpers), except in the ``EXCLUDED`` mapping."""
    here = Path(__file__).parent
    used: set[str] = set()
    for path in [*here.glob("test_client_*.py"), here / "client_replay.py"]:
        source = re.sub(r"\nEXCLUDED = \{.*?\n\}\n", "\n", path.read_text(), flags=re.S)
        used.update(re.findall(r"""["']([\w.\-]+\.json)["']""", source))
    return used


def test_every_fixture_is_replayed_or_excluded_with_a_reason():
    on_disk = {p.name for p in FIXTURES.glob("*.json")}
    used = _used_in_tests() | set(OPENAPI)

    assert set(EXCLUDED) <= on_disk, f"EXCLUDED names files that do not exist: {set(EXCLUDED) - on_disk}"
    assert not used & set(EXCLUDED), f"used and excluded at once: {used & set(EXCLUDED)}"
    assert on_disk - used - set(EXCLUDED) == set(), "fixtures neither replayed nor excluded"
    assert all(reason.strip() for reason in EXCLUDED.values())


def _openapi_enum(name: str, parameter: str) -> set[str]:
    return set(load(name)["components"]["parameters"][parameter]["schema"]["items"]["enum"])


@pytest.mark.parametrize(
    ("query_name", "parameter"),
    [
        ("dm_event.fields", "DmEventFieldsParameter"),
        ("expansions", "DmEventExpansionsParameter"),
        ("media.fields", "MediaFieldsParameter"),
        ("user.fields", "UserFieldsParameter"),
        ("tweet.fields", "TweetFieldsParameter"),
    ],
)
def test_requested_fields_are_openapi_2_159_values(query_name, parameter):
    requested = LOOKUP_FIELDS[query_name].split(",")

    assert set(requested) <= _openapi_enum("openapi_dm_excerpt.json", parameter)
    assert len(requested) == len(set(requested))


def test_all_dm_event_fields_and_expansions_are_requested():
    assert set(LOOKUP_FIELDS["dm_event.fields"].split(",")) == _openapi_enum(
        "openapi_dm_excerpt.json", "DmEventFieldsParameter"
    )
    assert set(LOOKUP_FIELDS["expansions"].split(",")) == _openapi_enum(
        "openapi_dm_excerpt.json", "DmEventExpansionsParameter"
    )
    assert USER_FIELDS == LOOKUP_FIELDS["user.fields"]


def test_media_argument_checks_follow_the_openapi_enums():
    schemas = load("openapi_media_upload_excerpt.json")["components"]["schemas"]

    assert set(x_arguments.MEDIA_CATEGORIES) == set(schemas["MediaCategory"]["enum"])
    assert set(x_arguments.MEDIA_TYPES) == set(schemas["MediaUploadConfigRequest"]["properties"]["media_type"]["enum"])


# Paths the OA excerpts do not include (they are in the full spec / v1.1): checked by hand against x-api.md.
OUTSIDE_EXCERPTS = {
    ("GET", "/2/users/{id}"),
    ("GET", "/2/users/by/username/{username}"),
    ("GET", "/2/users"),
    ("POST", "/1.1/direct_messages/indicate_typing.json"),
    ("POST", "/1.1/direct_messages/mark_read.json"),
}


def _templates() -> list[tuple[str, re.Pattern[str], str]]:
    found = []
    for name in OPENAPI:
        for path, operations in load(name)["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            found.extend((method.upper(), pattern, path) for method in operations)
    for method, path in OUTSIDE_EXCERPTS:
        found.append((method, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path))
    return found


def test_every_endpoint_the_client_calls_is_in_openapi_2_159(rsps):
    rsps.add_callback(responses.GET, re.compile(r".*"), callback=lambda request: (599, {}, ""))
    for method in ("POST", "PUT", "DELETE"):
        rsps.add_callback(method, re.compile(r".*"), callback=lambda request: (599, {}, ""))
    client = make_client(sleep=lambda s: None)
    calls = [
        lambda: client.dm_send_to_participant("1", text="x"),
        lambda: client.dm_send_to_conversation("1-2", text="x"),
        lambda: client.dm_group_create(["1", "2"], text="x"),
        lambda: client.dm_event_delete("1"),
        lambda: client.dm_events_page(),
        lambda: client.conversation_events_page("1-2"),
        lambda: client.participant_events_page("1"),
        lambda: client.dm_event("1"),
        lambda: client.me(),
        lambda: client.user("1"),
        lambda: client.user_by_username("maria_codes"),
        lambda: client.users(["1", "2"]),
        lambda: client.media_upload(b"x", media_type="image/png", media_category="dm_image"),
        lambda: client.webhook_create("https://example.com/hook"),
        lambda: client.webhooks(),
        lambda: client.webhook_validate("1"),
        lambda: client.webhook_delete("1"),
        lambda: client.subscription_create("1"),
        lambda: client.subscription_check("1"),
        lambda: client.subscriptions("1"),
        lambda: client.subscription_delete("1", "2"),
        lambda: client.subscription_count(),
        lambda: client.indicate_typing("1"),
        lambda: client.mark_read("1", "2"),
    ]

    for call in calls:
        with pytest.raises(Transient):  # 599: every call reaches X once and fails as a 5xx
            call()

    templates = _templates()
    called = [(c.request.method, urlsplit(c.request.url).path) for c in rsps.calls]
    assert len(called) == len(calls)
    unknown = [(m, p) for m, p in called if not any(m == tm and pattern.match(p) for tm, pattern, _ in templates)]
    assert unknown == []
