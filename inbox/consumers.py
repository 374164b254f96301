"""The agent's websocket: joins the groups the agent may see, forwards published events, and carries
the agent's presence in conversations (who else is viewing or replying).

Async: forwarding an event is the hot path (every DM reaches every agent of its inbox), and an async
consumer does it on the event loop instead of a thread hop per event. Only the lookup of the agent's
inboxes on connect and the presence actions touch the database. Presence actions are applied in the
background, coalesced per conversation (``inbox/presence_live.py``), so a flood of frames never waits
on the database or becomes a broadcast each.

Events reach the socket through the process's broadcaster (``inbox/broadcast.py``): the socket's groups
are joined by the process's one channel, and the socket reads its own bounded mailbox. A published
batch arrives as the frame's text, serialised once by the publisher (``inbox/realtime.py``), and is sent
as it is: one frame per batch (the event itself, or a JSON array of events), with no JSON work per
socket, by a writer task of the socket's own (``_write_events``) that waits on the mailbox alone.
``dispatch`` skips Channels' ``aclose_old_connections``, which Channels 4.3 awaits before every handler
through the process's one shared sync thread: that hop per event and per socket saturated the process
with 200 sockets. No handler here uses the ORM on the event loop; what touches the database
goes through ``database_sync_to_async``, which closes stale connections in its own thread.

Every way out runs the same cleanup (``_clean_up``): the client closing, the server closing the socket,
a send to a client that already went (uvicorn raises ``ClientDisconnected``), an error in a handler, the
channel layer failing under the socket, the task being cancelled (server shutdown). It removes the
socket's presence, uncounts it from the agent's open sockets and leaves its groups, each bounded by a
timeout, so an agent never stays "online" or "viewing" after the socket is gone.

Close codes, which the page acts on (static/js/inbox/socket.js):

- ``4401``: no valid session, or the agent was deactivated: the page goes to the login page. The socket is
  accepted first, so the browser sees the code (a socket closed before accepting shows as 1006).
- ``4000``: what the agent may see changed: the page reconnects at once.
- ``1013`` (try again later): the channel layer (Redis) is unavailable or did not answer within
  ``LAYER_TIMEOUT`` seconds, or the socket fell ``broadcast.SOCKET_BACKLOG`` messages behind (a client
  that does not read): the page reconnects with backoff and fetches what it missed.
- ``1011``: an unexpected error on the server: the page reconnects with backoff.

The agent's own presence (Online, Away, Offline: ``services/agent_status.py``) follows the socket: counted
on connect, uncounted on close, and ``{"action": "activity", "idle": true|false}`` from the page's idle
watch (``static/js/inbox/idle.js``) marks it idle or in use; each is followed by a refresh of the state.
A socket opened with ``?status=1`` also gets the agent's own ``agent.status`` events (the top bar).

A frame the consumer cannot use (binary, over ``MAX_FRAME_CHARS``, not JSON, nested too deep, NaN or
Infinity, an unknown action) is answered with ``{"event": "error", "detail": ...}`` and the socket stays
open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from accounts import online
from accounts.models import User
from inbox import broadcast, realtime
from inbox.presence_live import SocketPresence, keeper, presence_disconnect
from inbox.selectors import access as selectors
from inbox.services import agent_status, presence

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_RECONNECT = 4000  # what the agent may see changed: the page reconnects at once
CLOSE_TRY_AGAIN_LATER = 1013  # the channel layer is unavailable: the page reconnects with backoff
CLOSE_INTERNAL_ERROR = 1011
KNOWN_ACTIONS = ("ping", "presence", "presence_query", "activity")
# Actions are small JSON objects (under 200 characters); anything much larger is refused unread.
MAX_FRAME_CHARS = 4096
# Each channel-layer call on connect (joining the groups) and each cleanup step on close, at most.
LAYER_TIMEOUT = 2.0
CLEANUP_TIMEOUT = 5.0


@database_sync_to_async
def _groups_of(user: Any) -> list[str]:
    return [realtime.agent_group(user.pk)] + [
        realtime.inbox_group(pk) for pk in selectors.inboxes_visible_to(user).values_list("pk", flat=True)
    ]


@database_sync_to_async
def _is_active(user_id: int) -> bool:
    return User.objects.filter(pk=user_id, is_active=True).exists()


# Open sockets per agent, for auto-assignment's "online" (accounts/online.py): Redis, no database.
_socket_opened = sync_to_async(online.agent_socket_opened, thread_sensitive=False)
_socket_closed = sync_to_async(online.agent_socket_closed, thread_sensitive=False)
_socket_idle = sync_to_async(online.agent_socket_idle, thread_sensitive=False)
_status_refresh = database_sync_to_async(agent_status.agent_status_refresh)


class FrameError(ValueError):
    """A frame the consumer cannot use; the message is sent back as is."""


def decode_frame(text_data: str | None, bytes_data: bytes | None) -> Any:
    """The JSON value of a text frame, or ``FrameError`` saying why not (never another exception)."""
    if text_data is None:
        raise FrameError("Send JSON text frames, not binary ones.")
    if len(text_data) > MAX_FRAME_CHARS:
        raise FrameError(f"Frame too large: {len(text_data)} characters, at most {MAX_FRAME_CHARS}.")
    try:
        return json.loads(text_data, parse_constant=_refuse_constant)
    except RecursionError:
        raise FrameError("Not valid JSON: nested too deeply.") from None
    except ValueError as exc:
        raise FrameError(f"Not valid JSON: {exc}.") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class InboxConsumer(AsyncJsonWebsocketConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups_joined: list[str] = []
        self.mailbox = broadcast.Mailbox()
        self._broadcaster: broadcast.Broadcaster | None = None
        self.presence: SocketPresence | None = None
        self._counted = False  # counted as an open socket (presence keeper, accounts.online)
        self._counting: asyncio.Future[None] | None = None
        self._accepted = False
        self._closed = False  # a close was sent or the client went: nothing more is sent
        self._gone = asyncio.Event()
        # What the writer hands back to the dispatch loop: a batch with access.changed, overflow, layer lost.
        self._control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._cleaned = False
        self._idle = False  # what the page last said (``activity``)

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        """Channels' ``AsyncConsumer.__call__``, plus: the cleanup runs on every way out, shielded from
        cancellation; a failed send to a client that went ends the consumer instead of raising; a
        channel layer that fails under the socket closes it with 1013 instead of killing it."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        # The socket's name (presence and the open-socket count are keyed by it); events come through the
        # process's broadcaster, not through this channel.
        self.channel_name = await self.channel_layer.new_channel()
        self.base_send = self._sender(send)
        try:
            await await_many_dispatch([receive, self._control.get, self._until_gone], self.dispatch)
        except StopConsumer:
            pass
        except Exception:
            logger.exception("Inbox websocket %s failed", self.channel_name)
            with contextlib.suppress(Exception):
                if not self._accepted:
                    await self.accept()  # so the browser sees 1011 rather than an HTTP 500
                await self.close(code=CLOSE_INTERNAL_ERROR)
        finally:
            # Shielded: a second cancellation (server shutdown) does not cut the cleanup short.
            await asyncio.shield(asyncio.ensure_future(self._clean_up()))

    def _sender(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def send_while_open(message: dict[str, Any]) -> None:
            if self._closed:
                return  # after our close, or once the client went, there is nobody to send to
            if message["type"] == "websocket.close":
                self._closed = True
            try:
                await send(message)
            except OSError as exc:  # uvicorn's ClientDisconnected, a reset connection
                self._closed = True
                self._gone.set()
                raise StopConsumer from exc

        return send_while_open

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' ``AsyncConsumer.dispatch`` without ``aclose_old_connections`` (see the module docstring)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _until_gone(self) -> dict[str, Any]:
        await self._gone.wait()
        return {"type": "inbox.client_gone"}

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        try:
            self.groups_joined = await _groups_of(user)
            if _wants_status(self.scope):
                self.groups_joined.append(realtime.status_group(user.pk))
            self._broadcaster = broadcast.broadcaster(self.channel_layer)
            await self._broadcaster.subscribe(self.mailbox, self.groups_joined, timeout=LAYER_TIMEOUT)
        except Exception as exc:
            logger.warning("Refused a websocket of user %s: the channel layer is unavailable (%r)", user.pk, exc)
            await self._refuse(CLOSE_TRY_AGAIN_LATER)
            return
        await self.accept()
        self._writer = asyncio.ensure_future(self._write_events())
        self.presence = SocketPresence(user=user, connection=self.channel_name, answer=self.send_json)
        keeper.socket_opened()
        self._counted = True
        # Never cancelled (a call cancelled while queued would never run); the cleanup uncounts after it.
        self._counting = asyncio.ensure_future(_socket_opened(user_id=user.pk, connection=self.channel_name))
        done, _ = await asyncio.wait({self._counting}, timeout=CLEANUP_TIMEOUT)
        if not done or self._counting.exception() is not None:
            # The socket works without it; accounts.online's refresher records it once Redis answers.
            logger.warning("Could not count websocket %s of user %s as open yet", self.channel_name, user.pk)
        await self._refresh_status()

    async def _refresh_status(self) -> None:
        """The agent's presence after this socket opened, closed or went idle; a failure only leaves the
        stored state behind (readers that must be right ask the sockets themselves)."""
        try:
            await _status_refresh(user_id=self.scope["user"].pk)
        except Exception:
            logger.exception("Could not refresh the presence of user %s", self.scope["user"].pk)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol, headers)
        self._accepted = True

    async def _refuse(self, code: int) -> None:
        """Accept, then close with ``code``: the browser sees the code (a refusal before accepting shows as 1006)."""
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        await self._clean_up()

    async def _clean_up(self) -> None:
        """Remove the socket's presence, uncount it, leave its groups: once, each step bounded, all attempted."""
        if self._cleaned:
            return
        self._cleaned = True
        if self._writer is not None:
            self._writer.cancel()
        steps = []
        if self.presence is not None:
            conversations = await self.presence.close()
            if conversations:
                # Shielded, like the uncount: past the timeout it still runs (a thread call cancelled while
                # queued would never run), we only stop waiting for it.
                removal = presence_disconnect(connection=self.channel_name, conversation_ids=conversations)
                steps.append(asyncio.shield(asyncio.ensure_future(removal)))
        if self._counted:
            keeper.socket_closed(self.channel_name)
            steps.append(asyncio.shield(asyncio.ensure_future(self._uncount())))
        if self._broadcaster is not None:
            # The groups no other socket of this process needs; the process leaves them.
            steps += self._broadcaster.unsubscribe(self.mailbox)
        results = await asyncio.gather(
            *(asyncio.wait_for(step, CLEANUP_TIMEOUT) for step in steps), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                # Presence and the open-socket count expire on their own once nothing re-stamps them.
                logger.warning("Cleanup of websocket %s: %r", self.channel_name, result)

    async def _uncount(self) -> None:
        """Uncount the socket from the agent's open sockets, after its count finished (however late):
        uncounted first, a late count would keep it "online" for good."""
        if self._counting is not None:
            await asyncio.wait({self._counting})
        await _socket_closed(user_id=self.scope["user"].pk, connection=self.channel_name)
        await self._refresh_status()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.presence is None:
            return  # refused, closing
        try:
            content = decode_frame(text_data, bytes_data)
        except FrameError as exc:
            await self.send_json({"event": "error", "detail": str(exc)})
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.presence is None:
            return  # refused, closing
        action = content.get("action") if isinstance(content, dict) else None
        try:
            if action == "ping":
                await self.send_json({"event": "pong"})
            elif action == "presence":
                self.presence.ask(_conversation_id(content), state=_state(content))
            elif action == "presence_query":
                self.presence.ask(_conversation_id(content), query=True)
            elif action == "activity":
                await self._activity(_idle(content))
            else:
                known = ", ".join(repr(name) for name in KNOWN_ACTIONS)
                raise FrameError(f"Unknown action {presence.short_repr(action)}; known actions: {known}.")
        except (FrameError, presence.PresenceError) as exc:
            await self.send_json({"event": "error", "detail": str(exc)})

    async def _activity(self, idle: bool) -> None:
        """The page went idle or was used again: mark this socket so, then refresh the agent's presence."""
        if idle == self._idle:
            return
        self._idle = idle
        try:
            await _socket_idle(user_id=self.scope["user"].pk, connection=self.channel_name, idle=idle)
        except Exception:
            logger.warning("Could not mark websocket %s idle=%s", self.channel_name, idle, exc_info=True)
            self._idle = not idle  # the page's next report tries again
            return
        await self._refresh_status()

    async def _write_events(self) -> None:
        """Send the mailbox's published batches as they come, in order: the hot path, in a task of its own
        rather than through ``await_many_dispatch`` (which makes a task and an ``asyncio.wait`` per message).
        Anything else (a batch with ``access.changed``, overflow, layer lost, an unknown message) goes to
        the dispatch loop, and the writer stops: nothing is sent after it."""
        try:
            while True:
                message = await self.mailbox.get()
                if message["type"] != realtime.BATCH_TYPE or message.get("access_changed", True):
                    self._control.put_nowait(message)
                    return
                await self.send(text_data=message["text"])
        except StopConsumer:
            return  # the client went: the dispatch loop ends through _until_gone
        except Exception as exc:
            self._control.put_nowait({"type": "inbox.writer_failed", "error": exc})

    async def inbox_writer_failed(self, message: dict[str, Any]) -> None:
        raise message["error"]

    async def inbox_events(self, message: dict[str, Any]) -> None:
        """Published events (``realtime.batch_message``): the frame's text, serialised once for every
        socket, sent as it is. A batch with ``access.changed`` closes the socket instead: the page
        reconnects and fetches everything again anyway."""
        if message["access_changed"]:
            await self._access_changed()
            return
        await self.send(text_data=message["text"])

    async def inbox_layer_lost(self, message: dict[str, Any]) -> None:
        """The channel layer failed under this socket: close it, so the page reconnects (with backoff) and
        catches up once Redis answers again. A socket not accepted yet is refused by ``connect``."""
        if self._accepted:
            await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def inbox_overflow(self, message: dict[str, Any]) -> None:
        """The socket fell ``broadcast.SOCKET_BACKLOG`` messages behind (a client that does not read):
        close it rather than buffer without bound; the page reconnects and fetches what it missed."""
        await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def inbox_client_gone(self, message: dict[str, Any]) -> None:
        raise StopConsumer

    async def _access_changed(self) -> None:
        """Close, so the page reconnects with the groups the agent now may join; a deactivated agent's
        page is told to log in again."""
        active = await _is_active(self.scope["user"].pk)
        await self.close(code=CLOSE_RECONNECT if active else CLOSE_UNAUTHENTICATED)


def _conversation_id(content: dict[str, Any]) -> int:
    if "conversation_id" not in content:
        raise presence.PresenceError("'conversation_id' is required: the id of a conversation, an integer.")
    value = content["conversation_id"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise presence.PresenceError(f"'conversation_id' must be an integer, not {presence.short_repr(value)}.")
    return value


def _state(content: dict[str, Any]) -> str:
    if "state" not in content:
        raise presence.PresenceError("'state' is required: 'viewing', 'replying' or 'left'.")
    state = content["state"]
    if not isinstance(state, str) or state not in presence.STATES:
        raise presence.PresenceError(
            f"Unknown state {presence.short_repr(state)}; expected 'viewing', 'replying' or 'left'."
        )
    return state


def _idle(content: dict[str, Any]) -> bool:
    value = content.get("idle")
    if not isinstance(value, bool):
        raise FrameError(f"'idle' must be true or false, not {presence.short_repr(value)}.")
    return value


def _wants_status(scope: dict[str, Any]) -> bool:
    """The page asked for the agent's own ``agent.status`` events (``?status=1``: the inbox page's top bar)."""
    return parse_qs(scope.get("query_string", b"").decode("latin-1")).get("status") == ["1"]
