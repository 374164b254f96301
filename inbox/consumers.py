"""The agent's websocket: joins the groups the agent may see, forwards published events, and carries
the agent's presence in conversations (who else is viewing or replying).

Async: forwarding an event is the hot path (every DM reaches every agent of its inbox), and an async
consumer does it on the event loop instead of a thread hop per event. Only the lookup of the agent's
inboxes on connect and the presence actions touch the database. Presence actions call the sync services
of ``inbox/services/presence.py`` through ``database_sync_to_async``: they check the agent's access in
the database anyway, publishing (``realtime.publish``) is sync code, and a tab sends one every 20 s or
so, so one thread hop per action costs little; redis.asyncio would have needed a second, async, store.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts import online
from accounts.models import User
from inbox import realtime, selectors
from inbox.services import presence

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_RECONNECT = 4000  # what the agent may see changed: the page reconnects at once
KNOWN_ACTIONS = ("ping", "presence", "presence_query")


@database_sync_to_async
def _groups_of(user: Any) -> list[str]:
    return [realtime.agent_group(user.pk)] + [
        realtime.inbox_group(pk) for pk in selectors.inboxes_visible_to(user).values_list("pk", flat=True)
    ]


@database_sync_to_async
def _is_active(user_id: int) -> bool:
    return User.objects.filter(pk=user_id, is_active=True).exists()


_presence_set = database_sync_to_async(presence.presence_set)
_presence_get = database_sync_to_async(presence.presence_get)
_presence_disconnect = database_sync_to_async(presence.presence_disconnect)
# Open sockets per agent, for auto-assignment's "online" (accounts/online.py): Redis, no database.
_socket_opened = sync_to_async(online.agent_socket_opened)
_socket_closed = sync_to_async(online.agent_socket_closed)


class InboxConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]
    # Conversations this connection announced itself in and has not left: cleared on disconnect.
    present_in: set[int]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined = await _groups_of(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.present_in = set()
        _sweeper.socket_opened()
        await _socket_opened(user_id=user.pk, connection=self.channel_name)

    async def disconnect(self, code: int) -> None:
        try:
            if getattr(self, "present_in", None):
                await _presence_disconnect(connection=self.channel_name, conversation_ids=sorted(self.present_in))
                self.present_in.clear()
        except Exception:
            # The entries expire on their own; the groups must still be left.
            logger.exception("Could not remove the presence of %s", self.channel_name)
        finally:
            for group in getattr(self, "groups_joined", []):
                await self.channel_layer.group_discard(group, self.channel_name)
            if hasattr(self, "present_in"):
                _sweeper.socket_closed()
                await _socket_closed(user_id=self.scope["user"].pk, connection=self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self.send_json({"event": "error", "detail": "Send JSON text frames, not binary ones."})
            return
        try:
            content = json.loads(text_data)
        except ValueError as exc:
            await self.send_json({"event": "error", "detail": f"Not valid JSON: {exc}."})
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "ping":
            await self.send_json({"event": "pong"})
        elif action == "presence":
            await self._presence(content)
        elif action == "presence_query":
            await self._presence_query(content)
        else:
            known = ", ".join(repr(name) for name in KNOWN_ACTIONS)
            await self.send_json({"event": "error", "detail": f"Unknown action {action!r}; known actions: {known}."})

    async def _presence(self, content: dict[str, Any]) -> None:
        try:
            conversation_id = _conversation_id(content)
            if "state" not in content:
                raise presence.PresenceError("'state' is required: 'viewing', 'replying' or 'left'.")
            state = content["state"]
            await _presence_set(
                user=self.scope["user"], connection=self.channel_name, conversation_id=conversation_id, state=state
            )
        except presence.PresenceError as exc:
            await self.send_json({"event": "error", "detail": str(exc)})
            return
        if state == presence.LEFT:
            self.present_in.discard(conversation_id)
        else:
            self.present_in.add(conversation_id)

    async def _presence_query(self, content: dict[str, Any]) -> None:
        try:
            current = await _presence_get(user=self.scope["user"], conversation_id=_conversation_id(content))
        except presence.PresenceError as exc:
            await self.send_json({"event": "error", "detail": str(exc)})
            return
        await self.send_json({"event": realtime.PRESENCE_EVENT, "data": current.data()})

    async def inbox_events(self, message: dict[str, Any]) -> None:
        """Published events (``realtime``), several per channel-layer message: one frame each, in order."""
        for event in message["events"]:
            if event["event"] == realtime.ACCESS_CHANGED_EVENT:
                await self._access_changed()
                return
            await self.send_json(event)

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
        text = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise presence.PresenceError(f"'conversation_id' must be an integer, not {text}.")
    return value


class _PresenceSweeper:
    """Runs ``presence_sweep`` every ``presence.SWEEP_INTERVAL`` seconds while this process has sockets.

    Entries of a connection whose server died expire, and someone must tell the agents. Every process
    with sockets sweeps (in Redis each expired entry is deleted, and published, by one sweep only), so
    this works across hosts and in the quick start alike, and a process with no sockets does nothing.
    Only the process's event loop touches it.
    """

    def __init__(self) -> None:
        self._sockets = 0
        self._task: asyncio.Task[None] | None = None

    def socket_opened(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._task.get_loop() is not loop:
            self._sockets, self._task = 0, None  # a new loop (tests run one per test)
        self._sockets += 1
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="presence-sweeper")

    def socket_closed(self) -> None:
        self._sockets = max(0, self._sockets - 1)
        if self._sockets == 0 and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        sweep = database_sync_to_async(presence.presence_sweep)
        while True:
            await asyncio.sleep(presence.SWEEP_INTERVAL)
            try:
                await sweep()
            except Exception:
                logger.exception("Presence sweep failed")


_sweeper = _PresenceSweeper()
