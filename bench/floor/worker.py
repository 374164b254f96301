"""The floor's worker (a measuring reference, not product code; see ``bench/floor/__init__.py``).

``python -m bench.floor.worker`` with ``FLOOR_DATABASE_URL`` and ``FLOOR_REDIS_URL`` set. It LISTENs for
the web process's NOTIFY and drains what is stored: up to ``BATCH`` deliveries per transaction, taken in
the order they were stored (``FOR UPDATE SKIP LOCKED``, so several workers could share the work), their
DMs inserted with ``ON CONFLICT DO NOTHING`` (X's retries store nothing twice and send nothing twice),
then, after the commit, one ``group_send`` per inbox carrying every new message's frame, serialised once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from typing import Any

import psycopg
from channels_redis.core import RedisChannelLayer

from bench.floor.schema import NOTIFY_CHANNEL

BATCH = 100
IDLE_POLL_SECONDS = 1.0  # a drain even without a NOTIFY, in case one was missed while reconnecting


def channel_layer() -> RedisChannelLayer:
    """The layer both processes use, configured as the product's (capacity, expiry, timeout)."""
    return RedisChannelLayer(
        hosts=[{"address": os.environ["FLOOR_REDIS_URL"], "socket_timeout": 30}],
        prefix="floor",
        capacity=20000,
        expiry=60,
    )


def inbox_group(x_user_id: str | int) -> str:
    return f"floor.inbox.{x_user_id}"


def signature_of(body: bytes, secret: str) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def messages_of(delivery_id: int, body: str) -> list[tuple[int, int, int, str, datetime, int]]:
    """The DMs a delivery carries, as rows of ``floor_messages``; anything else in it is ignored."""
    try:
        payload = json.loads(body)
        inbox = int(payload["for_user_id"])
        rows = []
        for event in payload.get("direct_message_events", ()):
            if event.get("type") != "message_create":
                continue
            create = event["message_create"]
            sent_at = datetime.fromtimestamp(int(event["created_timestamp"]) / 1000, UTC)
            text = create["message_data"]["text"]
            rows.append((int(event["id"]), inbox, int(create["sender_id"]), text, sent_at, delivery_id))
        return rows
    except (ValueError, KeyError, TypeError):
        return []  # the product keeps such a delivery for a person to look at; the floor drops it


async def drain_once(conn: psycopg.AsyncConnection[Any], layer: Any) -> int:
    """One transaction of up to ``BATCH`` deliveries; their frames sent after the commit. Returns how many."""
    async with conn.transaction():
        cursor = await conn.execute(
            "UPDATE floor_deliveries SET processed_at = now() WHERE id IN ("
            " SELECT id FROM floor_deliveries WHERE processed_at IS NULL ORDER BY id LIMIT %s"
            " FOR UPDATE SKIP LOCKED) RETURNING id, body",
            [BATCH],
        )
        deliveries = sorted(await cursor.fetchall())
        rows = [row for delivery_id, body in deliveries for row in messages_of(delivery_id, body)]
        inserted: list[tuple[Any, ...]] = []
        if rows:
            columns = list(zip(*rows, strict=True))
            cursor = await conn.execute(
                "INSERT INTO floor_messages (x_event_id, inbox_x_id, customer_x_id, text, sent_at, delivery_id)"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[],"
                " %s::bigint[]) ON CONFLICT (x_event_id) DO NOTHING"
                " RETURNING x_event_id, inbox_x_id, customer_x_id, text, sent_at, delivery_id",
                [list(column) for column in columns],
            )
            inserted = sorted(await cursor.fetchall(), key=lambda row: row[5])
    frames: dict[int, list[str]] = {}
    for x_event_id, inbox, customer, text, sent_at, _ in inserted:
        data = {
            "x_event_id": str(x_event_id),
            "customer_id": str(customer),
            "text": text,
            "sent_at": sent_at.isoformat(),
        }
        frames.setdefault(inbox, []).append(json.dumps({"event": "message.created", "data": data}))
    for inbox, texts in frames.items():
        await layer.group_send(inbox_group(inbox), {"type": "floor.frames", "frames": texts})
    return len(deliveries)


async def run(database_url: str) -> None:
    layer = channel_layer()
    listener = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    await listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
    conn = await psycopg.AsyncConnection.connect(database_url)
    while True:
        while await drain_once(conn, layer) == BATCH:
            pass
        # A NOTIFY that came during the drain is already waiting here, so nothing stored is left behind.
        async for _ in listener.notifies(timeout=IDLE_POLL_SECONDS, stop_after=1):
            pass


def main() -> None:
    import uvloop

    uvloop.run(run(os.environ["FLOOR_DATABASE_URL"]))


if __name__ == "__main__":
    main()
