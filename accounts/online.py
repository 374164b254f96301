"""Which agents have Backchannel open: websocket connections counted per agent, shared by every app server.

The inbox consumer calls ``agent_socket_opened`` on connect and ``agent_socket_closed`` on disconnect,
and ``agent_socket_idle`` when the page says nobody has touched it for ``PRESENCE_AWAY_AFTER`` seconds
(or that someone is back). An agent is online while they have at least one connection that is not
idle and their own choice (``User.presence_choice``) is auto; ``accounts.presence`` works that out.

Storage: with ``settings.REDIS_URL`` one sorted set per agent, ``<KEY_PREFIX>:<user id>``, member = the
connection's channel name, score = when the entry expires (epoch seconds). Each process re-stamps the
connections it holds every ``REFRESH_INTERVAL`` seconds from a daemon thread, so the connections of a
server that died without saying goodbye drop out after ``CONNECTION_TTL`` seconds; a plain counter
would keep them forever. A re-stamp only moves the expiry of connections still recorded (``ZADD XX``),
so one that read this process's connections just before a socket closed cannot bring it back; a
connection whose first stamp failed (Redis down) is recorded by the next refresh. Without Redis every
socket lives in this one process (the in-memory channel layer), so a dict here is exact.

Idle connections: a set per agent, ``<IDLE_PREFIX>:<user id>``, of the channel names whose page is idle.
The process holding the connection writes it (and each refresh writes it again with the set's expiry,
so Redis losing it heals); a connection that expired counts for nothing, idle or not.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "backchannel:online"
IDLE_PREFIX = "backchannel:online-idle"
CONNECTION_TTL = 6.0
REFRESH_INTERVAL = 2.0
REDIS_TIMEOUT = 2.0

# This process's open connections: channel name -> user id (the refresher re-stamps them in Redis).
_mine: dict[str, int] = {}
# Those of this process's connections whose page said it is idle.
_idle: set[str] = set()
_lock = threading.RLock()  # re-entered: _refresh stamps the missing ones while holding it
_refresher: threading.Thread | None = None


def agent_socket_opened(*, user_id: int, connection: str) -> None:
    """Count ``connection`` (a channel name) as one open socket of ``user_id``. Publishes nothing."""
    with _lock:
        _mine[connection] = user_id
    if settings.REDIS_URL:
        _redis_stamp({connection: user_id})
        _refresher_start()


def agent_socket_closed(*, user_id: int, connection: str) -> None:
    """Forget ``connection``; the agent stays connected while another of their sockets is open."""
    with _lock:
        _mine.pop(connection, None)
        _idle.discard(connection)
    if settings.REDIS_URL:
        try:
            pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
            pipe.zrem(_key(user_id), connection)
            pipe.srem(_idle_key(user_id), connection)
            pipe.execute()
        except redis.RedisError:
            logger.exception("Could not remove connection %s of user %s; it expires on its own", connection, user_id)


def agent_socket_idle(*, user_id: int, connection: str, idle: bool) -> None:
    """Mark ``connection`` idle (its page saw no keyboard, mouse or focus for a while) or in use again.

    An agent whose every connection is idle is away (``users_active``). Raises ``redis.RedisError`` when
    Redis does not answer (the next refresh writes it)."""
    with _lock:
        if connection not in _mine:
            return  # closed meanwhile: nothing to mark
        if idle:
            _idle.add(connection)
        else:
            _idle.discard(connection)
    if settings.REDIS_URL:
        pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
        if idle:
            pipe.sadd(_idle_key(user_id), connection)
            pipe.expire(_idle_key(user_id), int(CONNECTION_TTL) * 2)
        else:
            pipe.srem(_idle_key(user_id), connection)
        pipe.execute()


def users_active(user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` with at least one open websocket whose page is not idle, on any app server."""
    ids = list(dict.fromkeys(user_ids))
    if not settings.REDIS_URL:
        with _lock:
            return {user_id for connection, user_id in _mine.items() if connection not in _idle} & set(ids)
    if not ids:
        return set()
    now = time.time()
    pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
    for user_id in ids:
        pipe.zrangebyscore(_key(user_id), f"({now}", "+inf")
        pipe.smembers(_idle_key(user_id))
    try:
        results = pipe.execute()
    except redis.RedisError:
        logger.exception("Could not read websocket connections from Redis")
        return set()
    live, idle = results[0::2], results[1::2]
    return {user_id for user_id, open_, idle_ in zip(ids, live, idle, strict=True) if set(open_) - set(idle_)}


def users_connected(user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` with at least one open (not expired) websocket, on any app server."""
    ids = list(dict.fromkeys(user_ids))
    if not settings.REDIS_URL:
        with _lock:
            return set(_mine.values()) & set(ids)
    if not ids:
        return set()
    now = time.time()
    pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
    for user_id in ids:
        pipe.zcount(_key(user_id), f"({now}", "+inf")
    try:
        counts = pipe.execute()
    except redis.RedisError:
        # Nobody counts as online: conversations wait in the queue until the next run, none is lost.
        logger.exception("Could not read websocket connections from Redis")
        return set()
    return {user_id for user_id, count in zip(ids, counts, strict=True) if count}


def _key(user_id: int) -> str:
    return f"{KEY_PREFIX}:{user_id}"


def _idle_key(user_id: int) -> str:
    return f"{IDLE_PREFIX}:{user_id}"


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )


def _redis_stamp(connections: dict[str, int], *, only_existing: bool = False) -> dict[str, bool]:
    """Set the expiry of ``connections`` to ``CONNECTION_TTL`` from now; with ``only_existing`` only of
    those still recorded. Writes the idle ones into their agent's idle set again. Returns, per
    connection, whether it is recorded now ({} when Redis failed)."""
    expires = time.time() + CONNECTION_TTL
    ordered = list(connections.items())
    with _lock:
        idle = [(connection, user_id) for connection, user_id in ordered if connection in _idle]
    try:
        pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
        for connection, user_id in ordered:
            pipe.zadd(_key(user_id), {connection: expires}, xx=only_existing, ch=True)
        for user_id in {user_id for _, user_id in ordered}:
            pipe.zremrangebyscore(_key(user_id), "-inf", time.time())
            pipe.expire(_key(user_id), int(CONNECTION_TTL) * 2)
        for connection, user_id in idle:
            pipe.sadd(_idle_key(user_id), connection)
            pipe.expire(_idle_key(user_id), int(CONNECTION_TTL) * 2)
        results = pipe.execute()
    except redis.RedisError:
        # The socket works without it; the agent only misses auto-assignment until the next refresh.
        logger.exception("Could not record %d websocket connection(s) in Redis", len(connections))
        return {}
    stamped = results[: len(ordered)]  # ZADD ... CH: 1 if written (always, without XX), 0 if not recorded
    return {c: bool(changed) or not only_existing for (c, _), changed in zip(ordered, stamped, strict=True)}


def _refresher_start() -> None:
    global _refresher
    with _lock:
        if _refresher is not None and _refresher.is_alive():
            return
        _refresher = threading.Thread(target=_refresh_forever, name="online-refresher", daemon=True)
        _refresher.start()


def _refresh_forever() -> None:
    while True:
        time.sleep(REFRESH_INTERVAL)
        _refresh()


def _refresh() -> None:
    """Re-stamp this process's connections. Those missing from Redis (their first stamp failed, or Redis
    lost them) are stamped again under the lock, so a socket closing meanwhile is either not stamped or
    removed after (``agent_socket_closed`` forgets it under the same lock before removing it)."""
    with _lock:
        connections = dict(_mine)
    if not connections:
        return
    recorded = _redis_stamp(connections, only_existing=True)
    missing = [connection for connection, present in recorded.items() if not present]
    if missing:
        with _lock:
            _redis_stamp({c: _mine[c] for c in missing if c in _mine})
