"""The floor's web process: a raw ASGI application (a measuring reference, not product code; see
``bench/floor/__init__.py``). Run: ``uvicorn bench.floor.app:app`` with ``FLOOR_DATABASE_URL``,
``FLOOR_REDIS_URL`` and ``FLOOR_CONSUMER_SECRET`` set.

- ``POST /twitter/webhook/``: X's signature checked, the body read as JSON, stored by group commit (one
  INSERT and one commit for every POST that arrived meanwhile, plus the NOTIFY that wakes the worker);
  answered 200 once committed, 403 for a bad signature, 400 for a body that is not a JSON object.
- ``GET /healthz``: 200.
- websocket ``/ws/inbox/<x user id>/``: joins that inbox's group and forwards each frame it is sent.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
from typing import Any

import psycopg

from bench.floor.schema import NOTIFY_CHANNEL
from bench.floor.worker import channel_layer, inbox_group, signature_of

WEBHOOK_PATH = "/twitter/webhook/"
SOCKET_PREFIX = "/ws/inbox/"
MAX_BYTES = 1_000_000


class Intake:
    """Group commit: the bodies queued while one INSERT runs go together in the next."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._queued: list[tuple[str, asyncio.Future[int]]] = []
        self._flushing = False

    async def store(self, body: str) -> int:
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.append((body, answer))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await answer

    async def _flush(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    ids = await self._insert([body for body, _ in batch])
                except Exception as exc:
                    self._connection = None
                    for _, answer in batch:
                        answer.set_exception(exc)
                    continue
                for (_, answer), delivery_id in zip(batch, ids, strict=True):
                    answer.set_result(delivery_id)
        finally:
            self._flushing = False

    async def _insert(self, bodies: list[str]) -> list[int]:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(self.database_url)
        conn = self._connection
        async with conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO floor_deliveries (body) SELECT unnest(%s::text[]) RETURNING id", [bodies]
            )
            ids = [row[0] for row in await cursor.fetchall()]
            await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        return ids


class Floor:
    def __init__(self) -> None:
        self.secret = os.environ["FLOOR_CONSUMER_SECRET"]
        self.intake = Intake(os.environ["FLOOR_DATABASE_URL"])
        self.layer = channel_layer()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})

    async def http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["method"] == "GET" and scope["path"] == "/healthz":
            await answer(send, 200, {"ok": True})
            return
        if scope["method"] != "POST" or scope["path"] != WEBHOOK_PATH:
            await answer(send, 404, {"error": "not_found"})
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_BYTES:
                await answer(send, 413, {"error": "too_large"})
                return
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        given = dict(scope["headers"]).get(b"x-twitter-webhooks-signature", b"").decode("latin-1")
        if not hmac.compare_digest(given, signature_of(body, self.secret)):
            await answer(send, 403, {"error": "bad_signature"})
            return
        try:
            if not isinstance(json.loads(body), dict):
                raise ValueError("not an object")
        except ValueError:
            await answer(send, 400, {"error": "bad_json"})
            return
        try:
            delivery_id = await self.intake.store(body.decode())
        except psycopg.Error:
            await answer(send, 503, {"error": "unavailable"})
            return
        await answer(send, 200, {"received": True, "delivery_id": delivery_id})

    async def websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        inbox = scope["path"].removeprefix(SOCKET_PREFIX).strip("/")
        if not scope["path"].startswith(SOCKET_PREFIX) or not inbox.isdigit():
            await send({"type": "websocket.close", "code": 4404})
            return
        channel = await self.layer.new_channel()
        group = inbox_group(inbox)
        await self.layer.group_add(group, channel)
        await send({"type": "websocket.accept"})

        async def forward() -> None:
            while True:
                message = await self.layer.receive(channel)
                for frame in message["frames"]:
                    await send({"type": "websocket.send", "text": frame})

        forwarding = asyncio.create_task(forward())
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            forwarding.cancel()
            await self.layer.group_discard(group, channel)


async def answer(send: Any, status: int, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


app = Floor()
