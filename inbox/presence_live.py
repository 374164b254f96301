"""The websocket side of presence (``inbox/services/presence.py``): what each process and each socket do.

- ``PresenceKeeper``, one per process: while the process has sockets, every few seconds it re-stamps the
  entries its sockets hold (so they outlive a dead process by ``presence.PRESENCE_TTL`` at most) and sweeps
  the expired entries of every process, which tells the agents.
- ``SocketPresence``, one per socket: the presence actions the socket asked for, applied one at a time
  in the background and coalesced per conversation, the entries it holds, and their removal when it
  closes. A flood of presence frames then costs one change per conversation every
  ``COALESCE_SECONDS`` (the latest state asked for wins), never a backlog of broadcasts.

Both run on the process's event loop; the store calls they make without the database (re-stamp,
sweep, removal on close) run in threads of their own, so a slow Redis holds none of the consumers'
database work up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer

from inbox import realtime
from inbox.services import presence

logger = logging.getLogger(__name__)

# A socket applies at most one presence change (or answers one query) per conversation this often; the
# first change after a quiet spell is applied at once.
COALESCE_SECONDS = 0.5
# How long a closing socket waits for the presence change it is applying before it removes its entries.
CLOSE_WAIT_SECONDS = 5.0

_presence_set = database_sync_to_async(presence.presence_set)
_presence_get = database_sync_to_async(presence.presence_get)
_presence_restamp = sync_to_async(presence.presence_restamp, thread_sensitive=False)
_presence_sweep = sync_to_async(presence.presence_sweep, thread_sensitive=False)
presence_disconnect = sync_to_async(presence.presence_disconnect, thread_sensitive=False)


class PresenceKeeper:
    """Re-stamps this process's entries and sweeps everyone's, while this process has sockets.

    Every process with sockets sweeps (in Redis each expired entry is deleted, and published, by one
    sweep only), so this works across hosts and in a single process alike, and a process with no sockets
    does nothing. Only the process's event loop touches it.
    """

    def __init__(self) -> None:
        self._held: dict[str, set[int]] = {}  # connection -> conversations it has an entry in
        self._sockets = 0
        self._task: asyncio.Task[None] | None = None

    def socket_opened(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._task.get_loop() is not loop:
            self._sockets, self._task, self._held = 0, None, {}  # a new loop (tests run one per test)
        self._sockets += 1
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="presence-keeper")

    def socket_closed(self, connection: str) -> None:
        self._held.pop(connection, None)
        self._sockets = max(0, self._sockets - 1)
        if self._sockets == 0 and self._task is not None:
            self._task.cancel()
            self._task = None

    def hold(self, connection: str, conversation_id: int) -> None:
        self._held.setdefault(connection, set()).add(conversation_id)

    def release(self, connection: str, conversation_id: int) -> None:
        self._held.get(connection, set()).discard(conversation_id)

    def held(self) -> dict[str, list[int]]:
        return {connection: sorted(ids) for connection, ids in self._held.items() if ids}

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_restamp = loop.time() + presence.RESTAMP_INTERVAL
        next_sweep = loop.time() + presence.SWEEP_INTERVAL
        while True:
            await asyncio.sleep(max(0.0, min(next_restamp, next_sweep) - loop.time()))
            if loop.time() >= next_restamp:
                next_restamp = loop.time() + presence.RESTAMP_INTERVAL
                if held := self.held():
                    try:
                        await _presence_restamp(held=held)
                    except Exception:
                        logger.exception("Presence re-stamp failed; entries expire unless the next one works")
            if loop.time() >= next_sweep:
                next_sweep = loop.time() + presence.SWEEP_INTERVAL
                try:
                    await _presence_sweep()
                except Exception:
                    logger.exception("Presence sweep failed")


keeper = PresenceKeeper()


@dataclass
class _Asked:
    state: str | None = None  # the latest state asked for and not applied yet
    query: bool = False


class SocketPresence:
    """One socket's presence actions, applied in the background, coalesced per conversation.

    ``ask`` never waits: it records the latest state asked for (and whether the socket wants the list)
    per conversation, and one task applies them in the order the conversations were first asked for.
    Answers (errors, lists) go out through ``answer``. ``close`` stops the task and says which
    conversations this socket may have an entry in: those it was told it has, and those whose write was
    in flight or ended unanswered.
    """

    def __init__(self, *, user: Any, connection: str, answer: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._user = user
        self._connection = connection
        self._answer = answer
        self._asked: dict[int, _Asked] = {}
        self._not_before: dict[int, float] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._entries: dict[int, str] = {}  # conversation -> the state this socket's entry has
        self._maybe: set[int] = set()  # conversations a write may have reached without our knowing

    def ask(self, conversation_id: int, *, state: str | None = None, query: bool = False) -> None:
        if self._closing:
            return
        asked = self._asked.setdefault(conversation_id, _Asked())
        if state is not None:
            asked.state = state
        asked.query = asked.query or query
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="socket-presence")

    async def close(self) -> list[int]:
        """Stop applying; return the conversations whose entry of this socket must be removed."""
        self._closing = True
        self._asked.clear()
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=CLOSE_WAIT_SECONDS)
            if not done:
                # A write still running in its thread: the connection's tombstone refuses it.
                self._task.cancel()
        return sorted(set(self._entries) | self._maybe)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            if not self._asked:
                self._wake.clear()
                await self._wake.wait()
                continue
            now = loop.time()
            ready = next((cid for cid in self._asked if self._not_before.get(cid, 0.0) <= now), None)
            if ready is None:
                self._wake.clear()
                wait = min(self._not_before[cid] for cid in self._asked) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            asked = self._asked.pop(ready)
            self._not_before = {cid: at for cid, at in self._not_before.items() if at > now}
            self._not_before[ready] = now + COALESCE_SECONDS
            try:
                await self._apply(ready, asked)
            except StopConsumer:
                return  # the socket is gone; the consumer cleans up
            except Exception:
                logger.exception("Presence action of %s failed", self._connection)

    async def _apply(self, conversation_id: int, asked: _Asked) -> None:
        if asked.state is not None:
            await self._set(conversation_id, asked.state)
        if asked.query:
            try:
                current = await _presence_get(user=self._user, conversation_id=conversation_id)
            except presence.PresenceError as exc:
                await self._answer({"event": "error", "detail": str(exc)})
            else:
                await self._answer({"event": realtime.PRESENCE_EVENT, "data": current.data()})

    async def _set(self, conversation_id: int, state: str) -> None:
        if state != presence.LEFT:
            self._maybe.add(conversation_id)
        try:
            await _presence_set(
                user=self._user, connection=self._connection, conversation_id=conversation_id, state=state
            )
        except presence.PresenceUnavailable as exc:
            await self._answer({"event": "error", "detail": str(exc)})
            return  # it may or may not have been written: still "maybe"
        except presence.PresenceError as exc:
            if conversation_id not in self._entries:
                self._maybe.discard(conversation_id)  # refused before anything was written
            await self._answer({"event": "error", "detail": str(exc)})
            return
        if self._closing:
            return  # the socket closed meanwhile: its cleanup removes the entry, nothing may hold it now
        if state == presence.LEFT:
            self._entries.pop(conversation_id, None)
            self._maybe.discard(conversation_id)
            keeper.release(self._connection, conversation_id)
        else:
            self._entries[conversation_id] = state
            self._maybe.discard(conversation_id)
            keeper.hold(self._connection, conversation_id)
