"""``GET /healthz``: is each backing service reachable from this process?"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

BROKER_TIMEOUT_SECONDS = 2.0
CHANNEL_LAYER_TIMEOUT_SECONDS = 2.0


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _channel_layer() -> None:
    """Round-trip one message through the layer, all of it within ``CHANNEL_LAYER_TIMEOUT_SECONDS``.

    The message goes to a channel of its own that is not process-local (no ``!``), read back directly. A
    process-local channel (``layer.new_channel()``) is read through the layer's one receive loop per
    process, and the websockets of this process hold that loop while they wait for events: with one idle
    agent socket open the check timed out and answered 503 while live push worked.
    """
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip() -> None:
        channel = f"healthz.{uuid.uuid4().hex}"
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "healthz.ping", "token": token})
        received = await layer.receive(channel)
        if received.get("token") != token:
            raise RuntimeError("channel layer returned a different message")

    async def bounded() -> None:
        # A frozen Redis answers nothing: the whole round trip is bounded, not only the read.
        await asyncio.wait_for(round_trip(), CHANNEL_LAYER_TIMEOUT_SECONDS)

    async_to_sync(bounded)()


def _broker() -> None:
    """Connect to the broker; every socket operation bounded (kombu's Redis transport pings on connect and,
    without a socket timeout, waited forever on a frozen Redis)."""
    from config.celery import app

    options = {
        **(app.conf.broker_transport_options or {}),
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
    }
    with app.connection_for_write(transport_options=options) as conn:
        # kombu takes the seconds as a float (time() + timeout); its stubs say int.
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)  # type: ignore[arg-type]


def _checks() -> dict[str, Callable[[], None]]:
    checks = {"database": _database, "channel_layer": _channel_layer}
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["celery_broker"] = _broker
    return checks


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report: dict[str, dict[str, object]] = {}
    for name, check in _checks().items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure of a dependency is a "down", reported, never a 500
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        else:
            report[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    healthy = all(entry["ok"] for entry in report.values())
    return JsonResponse({"status": "ok" if healthy else "down", "checks": report}, status=200 if healthy else 503)
