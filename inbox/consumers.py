"""The agent's websocket: joins the groups the agent may see and forwards published events.

Async: forwarding an event is the hot path (every DM reaches every agent of its inbox), and an async
consumer does it on the event loop instead of a thread hop per event. Only the lookup of the agent's
inboxes on connect touches the database.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inbox import realtime, selectors

CLOSE_UNAUTHENTICATED = 4401


@database_sync_to_async
def _groups_of(user: Any) -> list[str]:
    return [realtime.agent_group(user.pk)] + [
        realtime.inbox_group(pk) for pk in selectors.inboxes_visible_to(user).values_list("pk", flat=True)
    ]


class InboxConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined = await _groups_of(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

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
            return
        await self.send_json({"event": "error", "detail": f"Unknown action {action!r}; known actions: 'ping'."})

    async def inbox_event(self, message: dict[str, Any]) -> None:
        await self.send_json({"event": message["event"], "data": message["data"]})
