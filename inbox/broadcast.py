"""Fan-out of published events to a web process's websockets: one channel-layer channel per process.

Before, every websocket had a channel of its own in every group it may see. With 200 agents on one
inbox a DM was 200 channel-layer deliveries (channels-redis serialises the message once per channel of
the group, then each socket's receive loop reads it from Redis), and each socket's consumer handed the
message through Channels' one shared thread (``aclose_old_connections``) before forwarding it: the
web process saturated and the last screens got the DM seconds late.

Now each web process (each event loop, and each channel layer: tests switch layers) has one
``Broadcaster``. It holds one channel of the layer, joined to every group a local socket needs, counted:
the first socket that needs a group joins it (``group_add``), the last one to leave leaves it
(``group_discard``). One receive loop reads that channel and puts each message into the ``Mailbox`` of
every local socket of the message's group (``realtime.batch_message`` names the group). Redis work per
event is then O(web processes), not O(sockets), and the frame's text was serialised once, by the
publisher (``inbox/realtime.py``); the consumer forwards it as it is (``inbox/consumers.py``).

What the per-socket channels guaranteed, kept:

- **Order.** One channel, one reader, one FIFO mailbox per socket: a socket gets a group's messages in
  the order they were sent to the group.
- **Joined before accepted.** ``subscribe`` returns once every group is joined (the process is in it,
  by this socket or an earlier one), so what is published after the socket opened reaches it. It
  fails, and the consumer refuses the socket with 1013, when the layer does not answer in time.
- **A slow socket never holds the others up.** The receive loop never waits for a socket: it only
  queues. A mailbox holds at most ``SOCKET_BACKLOG`` messages; one that overflows is emptied and told
  ``inbox.overflow``, and its socket closes with 1013: the page reconnects and fetches what it missed,
  instead of the process buffering without bound for a client that does not read.
- **Redis lost.** When the receive fails (Redis stopped, or frozen past the layer's socket timeout),
  every socket of the broadcaster is told ``inbox.layer_lost`` and closes with 1013, and the broadcaster
  is retired: the next socket gets a new one that joins its groups afresh (a restarted Redis forgot
  them), on a new channel.
- **Membership refreshed.** channels-redis drops a group member after ``group_expiry`` (a day by
  default) unless it is added again; the broadcaster re-adds its groups every half of that.

Only the process's event loop touches a broadcaster, so it needs no locks; membership changes of one
group are chained (a join waits for the group's pending leave), so a leave never undoes a later join.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

# Messages waiting for one socket, at most; beyond this its socket is closed with 1013 (tests lower it).
SOCKET_BACKLOG = 2000
# Each group_discard of a retired membership, at most.
LEAVE_TIMEOUT = 5.0
OVERFLOW = {"type": "inbox.overflow"}
LAYER_LOST = {"type": "inbox.layer_lost"}


class Mailbox:
    """One socket's messages from its groups, in order, bounded; its consumer reads them with ``get``."""

    def __init__(self, backlog: int | None = None) -> None:
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._backlog = backlog if backlog is not None else SOCKET_BACKLOG
        self._ended = False
        self.groups: tuple[str, ...] = ()

    async def get(self) -> dict[str, Any]:
        return await self._queue.get()

    def put(self, message: dict[str, Any]) -> None:
        if self._ended:
            return
        if self._queue.qsize() >= self._backlog:
            logger.warning("A websocket fell %d messages behind; closing it so its page catches up", self._backlog)
            self.end(OVERFLOW)
            return
        self._queue.put_nowait(message)

    def end(self, last: dict[str, Any]) -> None:
        """Drop what waits and deliver ``last`` (overflow, layer lost) instead; nothing comes after it."""
        if self._ended:
            return
        self._ended = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(last)


@dataclass(eq=False)
class _Group:
    joined: asyncio.Task[None]
    members: set[Mailbox] = field(default_factory=set)


class Broadcaster:
    """One channel of ``layer`` for this process's sockets; see the module docstring."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.retired = False
        self._groups: dict[str, _Group] = {}
        self._leaving: dict[str, asyncio.Task[None]] = {}
        self._mailboxes: set[Mailbox] = set()
        self._tasks: list[asyncio.Task[None]] = []

    async def subscribe(self, mailbox: Mailbox, groups: list[str], *, timeout: float) -> None:
        """Deliver ``groups``' messages to ``mailbox`` from now on; raises if the layer does not confirm
        every group within ``timeout`` seconds (the mailbox is then unsubscribed)."""
        if self.channel is None:
            self.channel = await self.layer.new_channel()
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._receive_loop(), name="inbox-broadcast-receive"),
                loop.create_task(self._refresh_loop(), name="inbox-broadcast-refresh"),
            ]
        mailbox.groups = tuple(dict.fromkeys(groups))
        self._mailboxes.add(mailbox)
        joins = []
        for group in mailbox.groups:
            entry = self._groups.get(group)
            if entry is None or _failed(entry.joined):
                members = entry.members if entry is not None else set()
                entry = _Group(joined=asyncio.ensure_future(self._join(group)), members=members)
                self._groups[group] = entry
            entry.members.add(mailbox)
            joins.append(entry.joined)
        try:
            async with asyncio.timeout(timeout):
                # Shielded: the join is shared with the group's other sockets, one giving up ends only its wait.
                await asyncio.gather(*(asyncio.shield(join) for join in joins))
        except BaseException:
            self.unsubscribe(mailbox)
            raise

    def unsubscribe(self, mailbox: Mailbox) -> list[asyncio.Task[None]]:
        """Stop delivering to ``mailbox``; returns the leaves (``group_discard``) it started, for a caller
        that wants to wait for them. When no socket is left the broadcaster retires."""
        self._mailboxes.discard(mailbox)
        leaves = []
        for group in mailbox.groups:
            entry = self._groups.get(group)
            if entry is None or mailbox not in entry.members:
                continue
            entry.members.discard(mailbox)
            if not entry.members:
                del self._groups[group]
                entry.joined.cancel()  # still joining (a layer that does not answer): nobody waits for it now
                leaves.append(self._leave(group, entry.joined))
        if not self._mailboxes:
            self.retire()
        return leaves

    def retire(self) -> None:
        """Stop reading; the registry hands the next socket a new broadcaster (and channel)."""
        self.retired = True
        _forget(self)
        for task in self._tasks:
            task.cancel()

    async def _join(self, group: str) -> None:
        leaving = self._leaving.get(group)
        if leaving is not None:
            await asyncio.wait({leaving})
        assert self.channel is not None
        await self.layer.group_add(group, self.channel)

    def _leave(self, group: str, joined: asyncio.Task[None]) -> asyncio.Task[None]:
        async def leave() -> None:
            await asyncio.wait({joined})
            if _failed(joined) or joined.cancelled():
                return
            try:
                await asyncio.wait_for(self.layer.group_discard(group, self.channel), LEAVE_TIMEOUT)
            except Exception as exc:
                # The membership expires after the layer's group_expiry; meanwhile its messages are dropped here.
                logger.warning("Could not leave group %s: %r", group, exc)
            finally:
                if self._leaving.get(group) is task:
                    del self._leaving[group]

        task = asyncio.ensure_future(leave())
        self._leaving[group] = task
        return task

    async def _receive_loop(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("The channel layer failed under %d websocket(s)", len(self._mailboxes), exc_info=True)
                self._lose()
                return
            entry = self._groups.get(message.get("group"))
            if entry is None:
                continue  # a group this process just left, or a message that names none
            for mailbox in entry.members:
                mailbox.put(message)

    def _lose(self) -> None:
        """The layer failed: every socket closes with 1013, and new sockets start over on a new broadcaster."""
        self.retired = True
        _forget(self)
        for mailbox in self._mailboxes:
            mailbox.end(LAYER_LOST)
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        asyncio.ensure_future(self._drop_connections())

    async def _drop_connections(self) -> None:
        """Close this loop's pooled connections of the layer: after Redis restarts each idle one fails on its
        first use, and the next broadcaster's first read would close its new sockets again. channels-redis
        keeps them per event loop (``_layers``); its ``close_pools`` would close other loops' too."""
        loop_layer = getattr(self.layer, "_layers", {}).get(asyncio.get_running_loop())
        if loop_layer is None:
            return
        try:
            await asyncio.wait_for(loop_layer.flush(), LEAVE_TIMEOUT)
        except Exception as exc:
            logger.warning("Could not close the channel layer's connections: %r", exc)

    async def _refresh_loop(self) -> None:
        """Add the groups again before channels-redis's ``group_expiry`` drops this channel from them."""
        interval = max(1.0, getattr(self.layer, "group_expiry", 86400) / 2)
        while True:
            await asyncio.sleep(interval)
            groups = [group for group, entry in self._groups.items() if _joined(entry.joined)]
            assert self.channel is not None
            for group in groups:
                try:
                    await asyncio.wait_for(self.layer.group_add(group, self.channel), LEAVE_TIMEOUT)
                except Exception as exc:
                    logger.warning("Could not refresh group %s: %r", group, exc)

    @property
    def mailboxes(self) -> int:
        return len(self._mailboxes)


def _joined(task: asyncio.Task[None]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


def _failed(task: asyncio.Task[None]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


# The current broadcaster of each event loop and channel layer (a test runs a loop of its own and may
# switch layers). Weak: a loop that ended takes its broadcasters with it.
_current: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Broadcaster]] = weakref.WeakKeyDictionary()


def broadcaster(layer: Any) -> Broadcaster:
    """This event loop's broadcaster on ``layer`` (a new one if none, or if the last one retired)."""
    per_layer = _current.setdefault(asyncio.get_running_loop(), {})
    current = per_layer.get(id(layer))
    if current is None or current.retired or current.layer is not layer:
        current = per_layer[id(layer)] = Broadcaster(layer)
    return current


def _forget(retired: Broadcaster) -> None:
    with contextlib.suppress(RuntimeError):
        per_layer = _current.get(asyncio.get_running_loop(), {})
        if per_layer.get(id(retired.layer)) is retired:
            del per_layer[id(retired.layer)]
