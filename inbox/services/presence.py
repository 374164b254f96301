"""Who else is viewing or replying to a conversation: agent presence, one entry per websocket connection.

A connection (the consumer's channel name) announces ``viewing`` or ``replying`` for a conversation;
``left`` or the socket closing removes its entry. While the socket is open, the process that holds it
re-stamps its entries every ``RESTAMP_INTERVAL`` seconds (``presence_restamp``, run by
``inbox/presence_live.py``), and an entry not re-stamped for ``PRESENCE_TTL`` seconds expires: a server
that died leaves no ghost for longer than that, and ``presence_sweep`` tells everyone. The page's own
20 s heartbeat only repairs an entry lost meanwhile; it is not what keeps an entry alive. An agent with
several tabs is ``replying`` if any of their connections says so, else ``viewing``.

Every change of the list that agents see is published as ``agent.presence`` (the whole list) to the
conversation's inbox group; a heartbeat that changes nothing publishes nothing.

Storage: ``inbox/services/presence_store.py``; with ``settings.REDIS_URL`` Redis, shared by every process
and host, without it this process's memory.
"""

from __future__ import annotations

import contextlib
import logging
import reprlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from accounts.models import User
from inbox import realtime
from inbox.models import Conversation
from inbox.selectors import access as selectors
from inbox.services import presence_store
from inbox.services.presence_store import Entry

logger = logging.getLogger(__name__)

VIEWING = "viewing"
REPLYING = "replying"
LEFT = "left"
STATES = (VIEWING, REPLYING, LEFT)
# An entry not re-stamped for this long is gone: what a server that died leaves behind, at most.
PRESENCE_TTL = 6.0
# How often each websocket process re-stamps the entries of its sockets, and sweeps expired entries (of
# every process) and publishes the change: three re-stamps fit in one TTL, so a late one costs nothing.
RESTAMP_INTERVAL = 2.0
SWEEP_INTERVAL = 2.0


class PresenceError(ValueError):
    """Input a client may correct; the message is sent back to it as is."""


class PresenceUnavailable(PresenceError):
    """The presence store (Redis) did not answer."""


@dataclass(frozen=True)
class AgentPresence:
    id: int
    name: str
    state: str


@dataclass(frozen=True)
class Presence:
    """Who is in one conversation now, as ``agent.presence`` carries it."""

    conversation_id: int
    inbox_id: int
    agents: tuple[AgentPresence, ...]

    def data(self) -> dict[str, Any]:
        return realtime.presence_data(
            conversation_id=self.conversation_id,
            inbox_id=self.inbox_id,
            agents=[{"id": a.id, "name": a.name, "state": a.state} for a in self.agents],
        )


def presence_set(*, user: User, connection: str, conversation_id: int, state: str) -> Presence:
    """Record that ``connection`` (a websocket's channel name) of ``user`` is viewing or replying to
    ``conversation_id``, or has ``left`` it, and return the conversation's presence afterwards.

    Changes: this connection's entry only (written or removed in one atomic step; other connections'
    entries are never rewritten), expiring ``PRESENCE_TTL`` from now unless re-stamped. Nothing is
    written for a connection already closed (``presence_disconnect``): a call still in flight when its
    socket closed cannot bring the entry back. Publishes ``agent.presence`` to the inbox group when the
    list agents see changed; a heartbeat that changes nothing publishes nothing. Locks nothing. Raises
    ``PresenceError`` for an unknown state or a conversation that does not exist or that ``user`` may not
    see (one message for both), ``PresenceUnavailable`` when the store does not answer.
    """
    if state not in STATES:
        raise PresenceError(f"Unknown state {short_repr(state)}; expected 'viewing', 'replying' or 'left'.")
    inbox_id = _visible_inbox_id(user=user, conversation_id=conversation_id)
    store, now = _store(), _clock()
    with _unavailable():
        if state == LEFT:
            before = store.remove(conversation_id, connection)
            after = {field: entry for field, entry in before.items() if field != connection}
            # Our entry may have expired unswept and still be on screens: count it as seen, so its removal is told.
            seen_anyway = {connection}
        else:
            entry = Entry(
                user_id=user.pk, name=user.display_name, state=state, inbox_id=inbox_id, expires=now + PRESENCE_TTL
            )
            written, before = store.put(conversation_id, connection, entry)
            if not written:
                return Presence(conversation_id, inbox_id, _agents(before.values(), now=now))
            after = {**before, connection: entry}
            # Our entry, if it had expired, counts as unseen: its return is then told even if the list that
            # agents last got still showed it (a repeated list is harmless, a missing one is not).
            seen_anyway = set()
    return _publish_if_changed(conversation_id, inbox_id, before, after, now=now, seen_anyway=seen_anyway)


def presence_get(*, user: User, conversation_id: int) -> Presence:
    """Who is viewing or replying to ``conversation_id`` now (expired entries left out). Changes and
    publishes nothing. Raises ``PresenceError`` as ``presence_set`` does for a conversation ``user``
    may not see."""
    inbox_id = _visible_inbox_id(user=user, conversation_id=conversation_id)
    with _unavailable():
        entries = _store().entries(conversation_id)
    return Presence(conversation_id, inbox_id, _agents(entries.values(), now=_clock()))


def presence_disconnect(*, connection: str, conversation_ids: Iterable[int]) -> None:
    """``connection``'s socket closed: refuse its later writes, remove its entries from ``conversation_ids``.

    Changes: those entries only (and a tombstone of the connection, which expires on its own). Publishes
    ``agent.presence`` for each conversation whose list changed. Locks nothing; reads no database row
    (the inbox id is kept in the entries). Raises ``PresenceUnavailable`` when the store does not answer
    (the entries then expire within ``PRESENCE_TTL``, the socket no longer re-stamping them).
    """
    now = _clock()
    with _unavailable():
        befores = _store().close(connection, conversation_ids)
    for conversation_id, before in befores.items():
        removed = before.get(connection)
        if removed is not None:
            after = {field: entry for field, entry in before.items() if field != connection}
            _publish_if_changed(conversation_id, removed.inbox_id, before, after, now=now, seen_anyway={connection})


def presence_restamp(*, held: Mapping[str, Iterable[int]]) -> None:
    """Keep the entries of open sockets alive: ``held`` maps each connection this process holds to the
    conversations it is present in.

    Changes: the expiry of those entries that still exist, to ``PRESENCE_TTL`` from now; an entry
    removed meanwhile (``left``, a close, a sweep) stays removed. Publishes nothing. Locks nothing. Raises
    ``PresenceUnavailable`` when the store does not answer.
    """
    with _unavailable():
        _store().restamp(held, _clock() + PRESENCE_TTL)


def presence_sweep() -> int:
    """Delete expired entries of every conversation and return how many were deleted.

    Changes: expired entries only; an entry re-stamped meanwhile is kept (the store reads the expiry
    again in the same atomic step that deletes), so processes sweeping at the same time delete, and
    publish, each entry once. Publishes ``agent.presence`` for each conversation whose list changed.
    Locks nothing.
    """
    now = _clock()
    deleted = 0
    with _unavailable():
        changes = _store().sweep(now)
    for conversation_id, expired, remaining in changes:
        deleted += len(expired)
        # Agents may still show the expired entries (nothing published their expiry yet).
        before = {**remaining, **expired}
        inbox_id = next(iter(expired.values())).inbox_id
        _publish_if_changed(conversation_id, inbox_id, before, remaining, now=now, seen_anyway=set(expired))
    return deleted


def _publish_if_changed(
    conversation_id: int,
    inbox_id: int,
    before: Mapping[str, Entry],
    after: Mapping[str, Entry],
    *,
    now: float,
    seen_anyway: set[str],
) -> Presence:
    """Publish the list ``after`` unless agents saw the same list ``before``.

    Expired entries count in neither, except ``seen_anyway`` in ``before``: entries this change removed,
    which may still be on agents' screens since expiry is published only by the sweep.
    """
    seen = [entry for field, entry in before.items() if entry.live(now) or field in seen_anyway]
    presence = Presence(conversation_id, inbox_id, _agents(after.values(), now=now))
    if _agents(seen, now=None) != presence.agents:
        realtime.publish_presence(**presence.data())
    return presence


def _agents(entries: Iterable[Entry], *, now: float | None) -> tuple[AgentPresence, ...]:
    """One row per agent, live entries only (all when ``now`` is None): replying if any connection
    replies; the name of their latest entry; sorted by name."""
    by_user: dict[int, AgentPresence] = {}
    for entry in sorted(entries, key=lambda e: e.expires):
        if now is not None and not entry.live(now):
            continue
        earlier = by_user.get(entry.user_id)
        state = REPLYING if REPLYING in (entry.state, earlier.state if earlier else None) else VIEWING
        by_user[entry.user_id] = AgentPresence(id=entry.user_id, name=entry.name, state=state)
    return tuple(sorted(by_user.values(), key=lambda a: (a.name.casefold(), a.id)))


def _visible_inbox_id(*, user: User, conversation_id: int) -> int:
    inbox_id = (
        Conversation.objects.filter(pk=conversation_id, inbox__in=selectors.inboxes_visible_to(user).values("pk"))
        .values_list("inbox_id", flat=True)
        .first()
    )
    if inbox_id is None:
        # One message for "no such conversation" and "not yours", so ids cannot be probed.
        raise PresenceError(f"Conversation {conversation_id} does not exist or is not in one of your inboxes.")
    return inbox_id


_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxlong, _repr.maxother = 3, 200, 200, 200


def short_repr(value: object) -> str:
    """``repr`` of what a client sent, at most 40 characters, whatever its size or depth."""
    text = _repr.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _clock() -> float:
    return time.time()


def _store() -> presence_store.Store:
    return presence_store.redis_store(settings.REDIS_URL) if settings.REDIS_URL else presence_store.local_store


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    """Turn a store that did not answer into ``PresenceUnavailable`` (the consumer answers it; the socket lives)."""
    try:
        yield
    except presence_store.StoreUnavailable as exc:
        raise PresenceUnavailable("Presence is unavailable right now; try again shortly.") from exc
