"""Which agents have Backchannel open: websocket connections counted per agent, shared by every app server.

The inbox consumer calls ``agent_socket_opened`` on connect and ``agent_socket_closed`` on disconnect.
An agent counts as online (for auto-assignment) while they have at least one connection and their
own toggle (``User.presence``, set by ``accounts.services.presence_set``) says ``online``.

Storage: with ``settings.REDIS_URL`` one sorted set per agent, ``<KEY_PREFIX>:<user id>``, member = the
connection's channel name, score = when the entry expires (epoch seconds). Each process re-stamps the
connections it holds every ``REFRESH_INTERVAL`` seconds from a daemon thread, so the connections of a
server that died without saying goodbye drop out after ``CONNECTION_TTL`` seconds; a plain counter
would keep them forever. A re-stamp only moves the expiry of connections still recorded (``ZADD XX``),
so one that read this process's connections just before a socket closed cannot bring it back; a
connection whose first stamp failed (Redis down) is recorded by the next refresh. Without Redis every
socket lives in this one process (the in-memory channel layer), so a dict here is exact.
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
CONNECTION_TTL = 6.0
REFRESH_INTERVAL = 2.0
REDIS_TIMEOUT = 2.0

# This process's open connections: channel name -> user id (the refresher re-stamps them in Redis).
_mine: dict[str, int] = {}
_lock = threading.Lock()
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
    if settings.REDIS_URL:
        try:
            _client(settings.REDIS_URL).zrem(_key(user_id), connection)
        except redis.RedisError:
            logger.exception("Could not remove connection %s of user %s; it expires on its own", connection, user_id)


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


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )


def _redis_stamp(connections: dict[str, int], *, only_existing: bool = False) -> dict[str, bool]:
    """Set the expiry of ``connections`` to ``CONNECTION_TTL`` from now; with ``only_existing`` only of
    those still recorded. Returns, per connection, whether it is recorded now ({} when Redis failed)."""
    expires = time.time() + CONNECTION_TTL
    ordered = list(connections.items())
    try:
        pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
        for connection, user_id in ordered:
            pipe.zadd(_key(user_id), {connection: expires}, xx=only_existing, ch=True)
        for user_id in {user_id for _, user_id in ordered}:
            pipe.zremrangebyscore(_key(user_id), "-inf", time.time())
            pipe.expire(_key(user_id), int(CONNECTION_TTL) * 2)
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
