"""Who else is viewing or replying to a conversation: agent presence, one entry per websocket connection.

A connection (the consumer's channel name) announces ``viewing`` or ``replying`` for a conversation and
repeats it as a heartbeat; ``left`` or the socket closing removes its entry, and an entry that was not
repeated for ``PRESENCE_TTL`` seconds expires, so a server that died cannot leave ghosts. An agent with
several tabs is ``replying`` if any of their connections says so, else ``viewing``.

Every change of the list that agents see is published as ``agent.presence`` (the whole list) to the
conversation's inbox group; a heartbeat that changes nothing publishes nothing.

Storage: with ``settings.REDIS_URL`` one Redis hash per conversation, one field per connection, shared
by every process and host (``_RedisStore``); without it, a dict in this process (``_LocalStore``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from django.conf import settings

from accounts.models import User
from inbox import realtime, selectors
from inbox.models import Conversation

logger = logging.getLogger(__name__)

VIEWING = "viewing"
REPLYING = "replying"
LEFT = "left"
STATES = (VIEWING, REPLYING, LEFT)
# An entry not repeated for this long is gone. Browsers repeat every 20 s while a conversation is open;
# Chrome slows the timers of a tab hidden for minutes to once a minute, which 90 s still covers.
PRESENCE_TTL = 90.0
# How often each websocket process removes expired entries and publishes the change (consumers.py).
SWEEP_INTERVAL = 10.0
KEY_PREFIX = "backchannel:presence"
REDIS_TIMEOUT = 5.0


class PresenceError(ValueError):
    """Input a client may correct; the message is sent back to it as is."""


class PresenceUnavailable(PresenceError):
    """The presence store (Redis) did not answer."""


@dataclass(frozen=True)
class Entry:
    """One connection's presence in one conversation."""

    user_id: int
    name: str
    state: str
    inbox_id: int
    expires: float  # epoch seconds

    def live(self, now: float) -> bool:
        return self.expires > now

    def dumps(self) -> str:
        return json.dumps(
            {
                "user_id": self.user_id,
                "name": self.name,
                "state": self.state,
                "inbox_id": self.inbox_id,
                "expires": self.expires,
            }
        )

    @classmethod
    def loads(cls, raw: str) -> Entry | None:
        try:
            data = json.loads(raw)
            return cls(
                user_id=int(data["user_id"]),
                name=str(data["name"]),
                state=str(data["state"]),
                inbox_id=int(data["inbox_id"]),
                expires=float(data["expires"]),
            )
        except (ValueError, TypeError, KeyError):
            logger.warning("Ignoring a malformed presence entry: %.200r", raw)
            return None


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
    entries are never rewritten), with a new expiry ``PRESENCE_TTL`` from now. Publishes
    ``agent.presence`` to the inbox group when the list agents see changed; a heartbeat that changes
    nothing publishes nothing. Locks nothing. Raises ``PresenceError`` for an unknown state or a
    conversation that does not exist or that ``user`` may not see (one message for both).
    """
    if state not in STATES:
        raise PresenceError(f"Unknown state {_short_repr(state)}; expected 'viewing', 'replying' or 'left'.")
    inbox_id = _visible_inbox_id(user=user, conversation_id=conversation_id)
    store, now = _store(), _clock()
    if state == LEFT:
        before = store.remove(conversation_id, connection)
        after = {field: entry for field, entry in before.items() if field != connection}
        # Our entry may have expired unswept and still be on screens: count it as seen, so its removal is told.
        seen_anyway = {connection}
    else:
        entry = Entry(
            user_id=user.pk, name=user.display_name, state=state, inbox_id=inbox_id, expires=now + PRESENCE_TTL
        )
        before = store.put(conversation_id, connection, entry)
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
    return Presence(conversation_id, inbox_id, _agents(_store().entries(conversation_id).values(), now=_clock()))


def presence_disconnect(*, connection: str, conversation_ids: Iterable[int]) -> None:
    """Remove ``connection``'s entries from ``conversation_ids`` (its socket closed).

    Changes: those entries only. Publishes ``agent.presence`` for each conversation whose list changed.
    Locks nothing; reads no database row (the inbox id is kept in the entries).
    """
    store, now = _store(), _clock()
    for conversation_id in conversation_ids:
        before = store.remove(conversation_id, connection)
        removed = before.get(connection)
        if removed is not None:
            after = {field: entry for field, entry in before.items() if field != connection}
            _publish_if_changed(conversation_id, removed.inbox_id, before, after, now=now, seen_anyway={connection})


def presence_sweep() -> int:
    """Delete expired entries of every conversation and return how many were deleted.

    Changes: expired entries only; an entry refreshed meanwhile is kept (Redis compares and deletes in
    one script), so processes sweeping at the same time delete, and publish, each entry once.
    Publishes ``agent.presence`` for each conversation whose list changed. Locks nothing.
    """
    now = _clock()
    deleted = 0
    for conversation_id, expired, remaining in _store().sweep(now):
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


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _clock() -> float:
    return time.time()


# Storage ---------------------------------------------------------------------------------------------


class _Store(Protocol):
    def put(self, conversation_id: int, connection: str, entry: Entry) -> dict[str, Entry]:
        """Write ``connection``'s entry; return the conversation's entries just before (expired too)."""

    def remove(self, conversation_id: int, connection: str) -> dict[str, Entry]:
        """Delete ``connection``'s entry; return the conversation's entries just before (expired too)."""

    def entries(self, conversation_id: int) -> dict[str, Entry]: ...

    def sweep(self, now: float) -> list[tuple[int, dict[str, Entry], dict[str, Entry]]]:
        """Delete expired entries; return (conversation id, deleted, remaining) where any were deleted."""


def _store() -> _Store:
    return _redis_store(settings.REDIS_URL) if settings.REDIS_URL else _local_store


class _LocalStore:
    """Presence in this process's memory, for the quick start without Redis.

    Correct there because without ``REDIS_URL`` the channel layer is the in-memory one: every websocket
    of the deployment lives in this one process (a second process could not reach them anyway). The
    lock is needed because consumers call services from worker threads (``database_sync_to_async``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, dict[str, Entry]] = {}

    def put(self, conversation_id: int, connection: str, entry: Entry) -> dict[str, Entry]:
        with self._lock:
            entries = self._entries.setdefault(conversation_id, {})
            before = dict(entries)
            entries[connection] = entry
            return before

    def remove(self, conversation_id: int, connection: str) -> dict[str, Entry]:
        with self._lock:
            entries = self._entries.get(conversation_id, {})
            before = dict(entries)
            entries.pop(connection, None)
            if not entries:
                self._entries.pop(conversation_id, None)
            return before

    def entries(self, conversation_id: int) -> dict[str, Entry]:
        with self._lock:
            return dict(self._entries.get(conversation_id, {}))

    def sweep(self, now: float) -> list[tuple[int, dict[str, Entry], dict[str, Entry]]]:
        changes = []
        with self._lock:
            for conversation_id, entries in list(self._entries.items()):
                expired = {field: entry for field, entry in entries.items() if not entry.live(now)}
                if not expired:
                    continue
                for field in expired:
                    del entries[field]
                if not entries:
                    del self._entries[conversation_id]
                changes.append((conversation_id, expired, dict(entries)))
        return changes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_local_store = _LocalStore()

# KEYS: the conversation's hash, the index set; ARGV: conversation id, then field/value pairs read as
# expired. Deletes each field still holding that value (one refreshed meanwhile is kept), drops the
# conversation from the index once its hash is empty, and returns the fields deleted and what is left.
_SWEEP_SCRIPT = """
local deleted = {}
for i = 2, #ARGV, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
        redis.call('HDEL', KEYS[1], ARGV[i])
        table.insert(deleted, ARGV[i])
    end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[2], ARGV[1])
end
return {deleted, redis.call('HGETALL', KEYS[1])}
"""


class _RedisStore:
    """Presence in Redis, shared by every process and host.

    ``<KEY_PREFIX>:conversation:<id>`` is a hash with one field per connection (its channel name) whose
    value is the entry as JSON. A write is one ``MULTI`` (read the hash, set or delete this one field),
    so connections never overwrite each other and the "before" each write compares against is exact.
    ``<KEY_PREFIX>:conversations`` indexes the conversations that have entries, for the sweep. The
    hash itself expires ``2 * PRESENCE_TTL`` after its last write, a backstop for memory should no
    process sweep (then nobody is connected to be told either).
    """

    def __init__(self, url: str) -> None:
        # One client (and connection pool) per process, like ``twitter_channel.deliveries._flags``; the
        # pool is thread-safe and reconnects after a fork.
        self._client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self._sweep_script = self._client.register_script(_SWEEP_SCRIPT)
        self._index = f"{KEY_PREFIX}:conversations"

    def _key(self, conversation_id: int) -> str:
        return f"{KEY_PREFIX}:conversation:{conversation_id}"

    def put(self, conversation_id: int, connection: str, entry: Entry) -> dict[str, Entry]:
        key = self._key(conversation_id)
        with _redis_errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.hgetall(key)
            pipe.hset(key, connection, entry.dumps())
            pipe.pexpire(key, int(2 * PRESENCE_TTL * 1000))
            pipe.sadd(self._index, conversation_id)
            before, *_ = pipe.execute()
        return _parse(before)

    def remove(self, conversation_id: int, connection: str) -> dict[str, Entry]:
        key = self._key(conversation_id)
        with _redis_errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.hgetall(key)
            pipe.hdel(key, connection)
            before, _ = pipe.execute()
        return _parse(before)

    def entries(self, conversation_id: int) -> dict[str, Entry]:
        with _redis_errors():
            return _parse(self._client.hgetall(self._key(conversation_id)))

    def sweep(self, now: float) -> list[tuple[int, dict[str, Entry], dict[str, Entry]]]:
        changes = []
        with _redis_errors():
            conversation_ids = sorted(int(member) for member in self._client.smembers(self._index))
            pipe = self._client.pipeline(transaction=False)
            for conversation_id in conversation_ids:
                pipe.hgetall(self._key(conversation_id))
            for conversation_id, raw in zip(conversation_ids, pipe.execute(), strict=True):
                stale = {field: value for field, value in raw.items() if _expired(value, now)}
                if raw and not stale:
                    continue
                pairs = [item for field_value in stale.items() for item in field_value]
                deleted, remaining = self._sweep_script(
                    keys=[self._key(conversation_id), self._index], args=[conversation_id, *pairs]
                )
                gone = {field: entry for field, entry in _parse(stale).items() if field in deleted}
                if gone:
                    left = _parse(dict(zip(remaining[::2], remaining[1::2], strict=True)))
                    changes.append((conversation_id, gone, left))
        return changes

    def clear(self) -> None:
        with _redis_errors():
            for key in self._client.scan_iter(match=f"{KEY_PREFIX}:*"):
                self._client.delete(key)


@functools.cache
def _redis_store(url: str) -> _RedisStore:
    return _RedisStore(url)


def _parse(raw: Mapping[str, str]) -> dict[str, Entry]:
    entries = {field: Entry.loads(value) for field, value in raw.items()}
    return {field: entry for field, entry in entries.items() if entry is not None}


def _expired(raw: str, now: float) -> bool:
    entry = Entry.loads(raw)
    return entry is None or not entry.live(now)


@contextlib.contextmanager
def _redis_errors() -> Iterator[None]:
    """Turn Redis failures into ``PresenceUnavailable`` (the consumer answers it; the socket lives)."""
    try:
        yield
    except redis.RedisError as exc:
        logger.warning("Presence store unavailable: %s", exc)
        raise PresenceUnavailable("Presence is unavailable right now; try again shortly.") from exc
