"""Presence's stores (Redis and in memory) and the service without Redis: expiry, re-stamps, tombstones."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from inbox.services import presence, presence_store
from tests.inbox.presence_world import REDIS_URL, local_mode, make_team_and_conversation, redis_mode

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["local_mode", "redis_mode"]  # fixtures


def entry(expires: float, state: str = "viewing") -> presence_store.Entry:
    return presence_store.Entry(user_id=1, name="Alice", state=state, inbox_id=5, expires=expires)


@pytest.fixture(params=["redis", "local"])
def store(request, redis_mode) -> Iterator[presence_store.Store]:
    """Each store, empty (tombstones included)."""
    if request.param == "redis":
        yield presence_store.redis_store(REDIS_URL)
        return
    presence_store.local_store.clear()
    yield presence_store.local_store
    presence_store.local_store.clear()


def test_a_sweep_keeps_an_entry_re_stamped_after_the_sweep_read_it(redis_mode):
    # given an entry the sweep read as expired, re-stamped before the sweep deletes it
    store = presence_store.redis_store(REDIS_URL)
    store.put(77, "specific.tab!1", entry(expires=time.time() - 1))
    store.restamp({"specific.tab!1": [77]}, expires=time.time() + 60)

    # when the sweep's delete runs with what it read
    deleted, _ = store._sweep(
        keys=[f"{presence_store.KEY_PREFIX}:conversation:77", f"{presence_store.KEY_PREFIX}:expiries"],
        args=[77, time.time(), "specific.tab!1"],
    )

    # then the entry stays
    assert deleted == []
    assert list(store.entries(77)) == ["specific.tab!1"]


def test_a_re_stamp_never_brings_back_a_removed_entry(store):
    store.put(78, "specific.tab!1", entry(expires=time.time() + 60))
    store.put(78, "specific.tab!2", entry(expires=time.time() + 60))
    held = {"specific.tab!1": [78], "specific.tab!2": [78]}  # what the keeper read before they went

    store.remove(78, "specific.tab!1")
    store.close("specific.tab!2", [78])
    store.restamp(held, expires=time.time() + 600)

    assert store.entries(78) == {}


def test_a_write_in_flight_when_its_socket_closed_is_refused(store):
    store.put(79, "specific.tab!1", entry(expires=time.time() + 60))

    before = store.close("specific.tab!1", [79])
    written, _ = store.put(79, "specific.tab!1", entry(expires=time.time() + 60, state="replying"))

    assert list(before[79]) == ["specific.tab!1"]
    assert written is False
    assert store.entries(79) == {}


def test_a_re_stamp_moves_the_expiry_and_keeps_the_state(store):
    store.put(80, "specific.tab!1", entry(expires=time.time() + 1, state="replying"))

    store.restamp({"specific.tab!1": [80]}, expires=time.time() + 60)

    (kept,) = store.entries(80).values()
    assert kept.state == "replying"
    assert kept.expires > time.time() + 30
    assert store.sweep(time.time() + 2) == []


@pytest.fixture
def clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(presence, "_clock", lambda: now[0])
    return now


def test_without_redis_presence_is_kept_per_connection_and_changes_alone_are_published(local_mode, published, clock):
    # given
    team = make_team_and_conversation()
    cid, alice = team.conversation.pk, team.alice

    def set_(tab: str, state: str) -> None:
        presence.presence_set(user=alice, connection=tab, conversation_id=cid, state=state)

    def agents() -> list[list[dict[str, Any]]]:
        lists = [data["agents"] for data in published.of("agent.presence")]
        published.clear()
        return lists

    # when / then
    set_("tab-1", "viewing")
    assert agents() == [[{"id": alice.pk, "name": "Alice", "state": "viewing"}]]
    set_("tab-2", "viewing")
    set_("tab-1", "viewing")
    assert agents() == []
    set_("tab-2", "replying")
    assert agents() == [[{"id": alice.pk, "name": "Alice", "state": "replying"}]]
    clock[0] += 1
    set_("tab-1", "viewing")  # the other tab's later heartbeat: she still replies in tab 2
    assert agents() == []
    set_("tab-2", "left")
    assert agents() == [[{"id": alice.pk, "name": "Alice", "state": "viewing"}]]
    presence.presence_disconnect(connection="tab-1", conversation_ids=[cid])
    assert agents() == [[]]
    assert presence_store.local_store.entries(cid) == {}


def test_without_redis_expired_entries_are_ignored_then_swept_once(local_mode, published, clock):
    team = make_team_and_conversation()
    cid = team.conversation.pk
    presence.presence_set(user=team.alice, connection="tab-1", conversation_id=cid, state="viewing")
    presence.presence_set(user=team.bob, connection="tab-2", conversation_id=cid, state="viewing")
    published.clear()

    # when Alice's tab stops beating and Bob's goes on
    clock[0] += presence.PRESENCE_TTL - 1
    presence.presence_set(user=team.bob, connection="tab-2", conversation_id=cid, state="viewing")
    clock[0] += 2

    # then her entry is ignored when read
    assert [a.name for a in presence.presence_get(user=team.bob, conversation_id=cid).agents] == ["Bob"]
    assert published.sent == []
    # and swept once, which tells everyone
    assert presence.presence_sweep() == 1
    assert [data["agents"] for data in published.of("agent.presence")] == [
        [{"id": team.bob.pk, "name": "Bob", "state": "viewing"}]
    ]
    assert presence.presence_sweep() == 0
    assert set(presence_store.local_store.entries(cid)) == {"tab-2"}


def test_without_redis_an_agent_returning_after_expiry_is_told(local_mode, published, clock):
    # given Alice's entry expired, and a later change told everyone the list without her
    team = make_team_and_conversation()
    cid = team.conversation.pk
    presence.presence_set(user=team.alice, connection="tab-1", conversation_id=cid, state="viewing")
    clock[0] += presence.PRESENCE_TTL + 1
    presence.presence_set(user=team.bob, connection="tab-2", conversation_id=cid, state="viewing")
    published.clear()

    # when her tab beats again
    presence.presence_set(user=team.alice, connection="tab-1", conversation_id=cid, state="viewing")

    # then she is listed again
    assert [[a["name"] for a in data["agents"]] for data in published.of("agent.presence")] == [["Alice", "Bob"]]


def test_an_unknown_state_is_refused_by_the_service(local_mode):
    team = make_team_and_conversation()

    with pytest.raises(presence.PresenceError, match="Unknown state 'away'"):
        presence.presence_set(user=team.alice, connection="tab", conversation_id=team.conversation.pk, state="away")
