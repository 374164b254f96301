"""The agent's websocket: joins the groups the agent may see and forwards published events."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer

from inbox import realtime, selectors

CLOSE_UNAUTHENTICATED = 4401


class InboxConsumer(JsonWebsocketConsumer):
    groups_joined: list[str]

    def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined = [realtime.agent_group(user.pk)] + [
            realtime.inbox_group(pk) for pk in selectors.inboxes_visible_to(user).values_list("pk", flat=True)
        ]
        for group in self.groups_joined:
            async_to_sync(self.channel_layer.group_add)(group, self.channel_name)
        self.accept()

    def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            self.send_json({"event": "error", "detail": "Send JSON text frames, not binary ones."})
            return
        try:
            content = json.loads(text_data)
        except ValueError as exc:
            self.send_json({"event": "error", "detail": f"Not valid JSON: {exc}."})
            return
        self.receive_json(content)

    def receive_json(self, content: Any, **kwargs: Any) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "ping":
            self.send_json({"event": "pong"})
            return
        self.send_json({"event": "error", "detail": f"Unknown action {action!r}; known actions: 'ping'."})

    def inbox_event(self, message: dict[str, Any]) -> None:
        self.send_json({"event": message["event"], "data": message["data"]})
