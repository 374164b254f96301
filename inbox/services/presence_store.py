"""Where presence entries live: Redis, shared by every process and host, or this process's memory.

Only ``inbox/services/presence.py`` uses this module; it holds no rules about who may see what.

An entry is one connection's (a websocket's channel name) state in one conversation, with the time it
expires. The websocket process that holds the connection re-stamps its expiry every few seconds
(``restamp``), so an entry outlives its socket by at most ``PRESENCE_TTL`` when that process dies.
Three rules keep a removed entry removed:

- ``restamp`` only moves the expiry of entries that still exist (``ZADD XX``): a re-stamp that read the
  list of entries before a ``remove`` and writes after it changes nothing;
- ``close`` leaves a tombstone for the connection before removing its entries, and ``put`` refuses to
  write for a connection with a tombstone: a write still in flight when its socket closed (a thread
  cannot be cancelled) cannot bring the entry back;
- ``sweep`` deletes an entry only if its expiry, read again inside the same atomic step, has passed.
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
from typing import Protocol, cast

import redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "backchannel:presence"
REDIS_TIMEOUT = 2.0
# How long a closed connection's tombstone refuses writes: far longer than any write can be in flight.
TOMBSTONE_TTL = 120.0


class StoreUnavailable(Exception):
    """Redis did not answer (in time)."""


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
        """The stored value; the expiry is kept apart, so a re-stamp never rewrites the state."""
        return json.dumps({"user_id": self.user_id, "name": self.name, "state": self.state, "inbox_id": self.inbox_id})

    @classmethod
    def loads(cls, raw: str, expires: float) -> Entry | None:
        try:
            data = json.loads(raw)
            return cls(
                user_id=int(data["user_id"]),
                name=str(data["name"]),
                state=str(data["state"]),
                inbox_id=int(data["inbox_id"]),
                expires=float(expires),
            )
        except (ValueError, TypeError, KeyError):
            logger.warning("Ignoring a malformed presence entry: %.200r", raw)
            return None


Entries = dict[str, Entry]  # connection -> entry, of one conversation


class Store(Protocol):
    def put(self, conversation_id: int, connection: str, entry: Entry) -> tuple[bool, Entries]:
        """Write ``connection``'s entry unless the connection was closed; return (written, the
        conversation's entries just before, expired ones included)."""

    def remove(self, conversation_id: int, connection: str) -> Entries:
        """Delete ``connection``'s entry; return the conversation's entries just before."""

    def close(self, connection: str, conversation_ids: Iterable[int]) -> dict[int, Entries]:
        """Refuse every later ``put`` of ``connection``, then delete its entries from ``conversation_ids``;
        return each conversation's entries just before."""

    def entries(self, conversation_id: int) -> Entries: ...

    def restamp(self, held: Mapping[str, Iterable[int]], expires: float) -> None:
        """Move the expiry of the existing entries of ``held`` (connection -> conversation ids) to
        ``expires``; create none."""

    def sweep(self, now: float) -> list[tuple[int, Entries, Entries]]:
        """Delete expired entries; return (conversation id, deleted, remaining) where any were deleted."""

    def clear(self) -> None: ...


class LocalStore:
    """Presence in this process's memory, without Redis (the unit tests' mode).

    Correct there because without ``REDIS_URL`` the channel layer is the in-memory one: every websocket
    of the deployment lives in this one process (a second process could not reach them anyway). The
    lock is needed because consumers call services from worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, Entries] = {}
        self._closed: dict[str, float] = {}  # connection -> when its tombstone lapses (monotonic)

    def put(self, conversation_id: int, connection: str, entry: Entry) -> tuple[bool, Entries]:
        with self._lock:
            before = dict(self._entries.get(conversation_id, {}))
            if self._is_closed(connection):
                return False, before
            self._entries.setdefault(conversation_id, {})[connection] = entry
            return True, before

    def remove(self, conversation_id: int, connection: str) -> Entries:
        with self._lock:
            return self._remove(conversation_id, connection)

    def close(self, connection: str, conversation_ids: Iterable[int]) -> dict[int, Entries]:
        with self._lock:
            now = time.monotonic()
            self._closed = {c: until for c, until in self._closed.items() if until > now}
            self._closed[connection] = now + TOMBSTONE_TTL
            return {cid: self._remove(cid, connection) for cid in conversation_ids}

    def entries(self, conversation_id: int) -> Entries:
        with self._lock:
            return dict(self._entries.get(conversation_id, {}))

    def restamp(self, held: Mapping[str, Iterable[int]], expires: float) -> None:
        with self._lock:
            for connection, conversation_ids in held.items():
                for conversation_id in conversation_ids:
                    entries = self._entries.get(conversation_id, {})
                    if connection in entries:
                        entry = entries[connection]
                        entries[connection] = Entry(entry.user_id, entry.name, entry.state, entry.inbox_id, expires)

    def sweep(self, now: float) -> list[tuple[int, Entries, Entries]]:
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
            self._closed.clear()

    def _is_closed(self, connection: str) -> bool:
        until = self._closed.get(connection)
        return until is not None and until > time.monotonic()

    def _remove(self, conversation_id: int, connection: str) -> Entries:
        entries = self._entries.get(conversation_id, {})
        before = dict(entries)
        entries.pop(connection, None)
        if not entries:
            self._entries.pop(conversation_id, None)
        return before


local_store = LocalStore()

# Lua, shared by the scripts below. KEYS[1]: the conversation's hash; KEYS[2]: the expiry index; ARGV[1]:
# the conversation id. Returns the conversation's entries as a flat list: connection, value, expiry, ...
# (an entry without an expiry in the index reads as expired: 0).
_READ = """
local function entries()
    local out = {}
    local raw = redis.call('HGETALL', KEYS[1])
    for i = 1, #raw, 2 do
        local score = redis.call('ZSCORE', KEYS[2], ARGV[1] .. ':' .. raw[i])
        table.insert(out, raw[i])
        table.insert(out, raw[i + 1])
        table.insert(out, score or '0')
    end
    return out
end
"""

# + KEYS[3]: the connection's tombstone; ARGV[2] connection, ARGV[3] value, ARGV[4] expiry, ARGV[5] the
# hash's backstop lifetime (ms). Returns {1 if written else 0, entries before}.
_PUT = (
    _READ
    + """
local before = entries()
if redis.call('EXISTS', KEYS[3]) == 1 then
    return {0, before}
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1] .. ':' .. ARGV[2])
return {1, before}
"""
)

# ARGV[2]: the connection. Returns the entries before.
_REMOVE = (
    _READ
    + """
local before = entries()
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1] .. ':' .. ARGV[2])
return before
"""
)

# ARGV[2]: now; ARGV[3...]: connections the index showed as expired. Deletes those whose expiry, read
# again here, has passed (one re-stamped meanwhile is kept). Returns {deleted: connection, value, ...;
# remaining entries}.
_SWEEP = (
    _READ
    + """
local deleted = {}
for i = 3, #ARGV do
    local member = ARGV[1] .. ':' .. ARGV[i]
    local score = redis.call('ZSCORE', KEYS[2], member)
    if (not score) or tonumber(score) <= tonumber(ARGV[2]) then
        local value = redis.call('HGET', KEYS[1], ARGV[i])
        redis.call('ZREM', KEYS[2], member)
        if value then
            redis.call('HDEL', KEYS[1], ARGV[i])
            table.insert(deleted, ARGV[i])
            table.insert(deleted, value)
        end
    end
end
return {deleted, entries()}
"""
)

_ENTRIES = _READ + "\nreturn entries()\n"


class RedisStore:
    """Presence in Redis, shared by every process and host.

    - ``<KEY_PREFIX>:conversation:<id>``: a hash, one field per connection, the entry as JSON (without
      its expiry). It expires ``2 * ttl`` after its last write or re-stamp, a backstop for memory should
      no process sweep (then nobody is connected to be told either).
    - ``<KEY_PREFIX>:expiries``: a sorted set of ``<conversation id>:<connection>`` scored by expiry, so
      a sweep finds what expired with one command and a re-stamp is one ``ZADD XX``.
    - ``<KEY_PREFIX>:closed:<connection>``: the tombstone of a closed connection.

    Every write is one Lua script (reads the entries before and writes in one atomic step), so
    connections never overwrite each other and the "before" each change compares against is exact.
    Every call is bounded by ``REDIS_TIMEOUT``.
    """

    def __init__(self, url: str) -> None:
        # One client (and connection pool) per process; the pool is thread-safe and reconnects after a fork.
        self._client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self._put = self._client.register_script(_PUT)
        self._remove = self._client.register_script(_REMOVE)
        self._sweep = self._client.register_script(_SWEEP)
        self._entries = self._client.register_script(_ENTRIES)
        self._index = f"{KEY_PREFIX}:expiries"

    def _key(self, conversation_id: int) -> str:
        return f"{KEY_PREFIX}:conversation:{conversation_id}"

    def _tombstone(self, connection: str) -> str:
        return f"{KEY_PREFIX}:closed:{connection}"

    def put(self, conversation_id: int, connection: str, entry: Entry) -> tuple[bool, Entries]:
        keys = [self._key(conversation_id), self._index, self._tombstone(connection)]
        backstop_ms = int(2 * max(entry.expires - time.time(), 1) * 1000)
        with _redis_errors():
            written, before = self._put(
                keys=keys, args=[conversation_id, connection, entry.dumps(), entry.expires, backstop_ms]
            )
        return bool(written), _parse(before)

    def remove(self, conversation_id: int, connection: str) -> Entries:
        with _redis_errors():
            before = self._remove(keys=[self._key(conversation_id), self._index], args=[conversation_id, connection])
        return _parse(before)

    def close(self, connection: str, conversation_ids: Iterable[int]) -> dict[int, Entries]:
        ids = list(dict.fromkeys(conversation_ids))
        with _redis_errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self._tombstone(connection), 1, px=int(TOMBSTONE_TTL * 1000))
            for conversation_id in ids:
                keys = [self._key(conversation_id), self._index]
                self._remove(keys=keys, args=[conversation_id, connection], client=pipe)
            _, *befores = pipe.execute()
        return {cid: _parse(before) for cid, before in zip(ids, befores, strict=True)}

    def entries(self, conversation_id: int) -> Entries:
        with _redis_errors():
            return _parse(self._entries(keys=[self._key(conversation_id), self._index], args=[conversation_id]))

    def restamp(self, held: Mapping[str, Iterable[int]], expires: float) -> None:
        members: dict[str, float] = {}
        conversation_ids: set[int] = set()
        for connection, ids in held.items():
            for conversation_id in ids:
                members[f"{conversation_id}:{connection}"] = expires
                conversation_ids.add(conversation_id)
        if not members:
            return
        backstop_ms = int(2 * max(expires - time.time(), 1) * 1000)
        with _redis_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.zadd(self._index, members, xx=True)
            for conversation_id in sorted(conversation_ids):
                pipe.pexpire(self._key(conversation_id), backstop_ms)
            pipe.execute()

    def sweep(self, now: float) -> list[tuple[int, Entries, Entries]]:
        changes = []
        with _redis_errors():
            stale: dict[int, list[str]] = {}
            # Without scores, and text (decode_responses): redis-py's types cannot tell either.
            members = cast("list[str]", self._client.zrangebyscore(self._index, "-inf", now, start=0, num=5000))
            for member in members:
                conversation, _, connection = member.partition(":")
                with contextlib.suppress(ValueError):
                    stale.setdefault(int(conversation), []).append(connection)
            for conversation_id, connections in sorted(stale.items()):
                deleted, remaining = self._sweep(
                    keys=[self._key(conversation_id), self._index], args=[conversation_id, now, *connections]
                )
                gone = {
                    field: entry
                    for field, value in zip(deleted[::2], deleted[1::2], strict=True)
                    if (entry := Entry.loads(value, expires=0.0)) is not None
                }
                if gone:
                    changes.append((conversation_id, gone, _parse(remaining)))
        return changes

    def clear(self) -> None:
        with _redis_errors():
            for key in self._client.scan_iter(match=f"{KEY_PREFIX}:*"):
                self._client.delete(key)


@functools.cache
def redis_store(url: str) -> RedisStore:
    return RedisStore(url)


def _parse(flat: list[str]) -> Entries:
    """Entries from the scripts' flat list: connection, value, expiry, ..."""
    parsed = {}
    for connection, value, expires in zip(flat[::3], flat[1::3], flat[2::3], strict=True):
        entry = Entry.loads(value, expires=float(expires))
        if entry is not None:
            parsed[connection] = entry
    return parsed


@contextlib.contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        logger.warning("Presence store unavailable: %s", exc)
        raise StoreUnavailable(str(exc)) from exc
