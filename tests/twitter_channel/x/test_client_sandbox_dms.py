"""XClient against the real X sandbox over HTTP: sending and deleting DMs, looking DM events and users up,
typing indicators and read receipts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.twitter_channel.x.client_sandbox import ONE_TO_ONE, acme, insecure_transport, soon
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel.x.client import XClient
from twitter_channel.x.errors import NotFound

__all__ = ["acme", "insecure_transport"]  # the fixtures, from client_sandbox

KENJI = "783214"


def customer_says(sandbox: Sandbox, text: str, customer: str = CUSTOMER_ID) -> str:
    return sandbox.control("POST", f"users/{customer}/messages", {"to": BUSINESS_ID, "text": text})["dm_event_id"]


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


# --- typing and read receipts (v1.1) ----------------------------------------------------------------------------


def test_typing_and_mark_read(sandbox: Sandbox, acme: XClient):
    event_id = customer_says(sandbox, "are you there?")

    typing = acme.indicate_typing(CUSTOMER_ID)
    read = acme.mark_read(CUSTOMER_ID, event_id)

    assert (typing.data, read.data) == ({}, {})
    assert (typing.rate_limit.limit, typing.rate_limit.remaining, read.rate_limit.remaining) == (1000, 999, 998)
    with pytest.raises(NotFound, match=r"404 Not Found — Sorry, that page does not exist. \(code 34\)"):
        acme.mark_read(CUSTOMER_ID, "1")
