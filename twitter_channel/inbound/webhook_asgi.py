"""X's webhook POSTs under ASGI, answered before Django's request cycle: the hot path of the whole site.

Every DM reaches us as one of these POSTs. Through Django, each paid for a new thread (Django runs a
request's sync parts in a thread of its own under ASGI), the middleware chain and a transaction of its
own; ``bench/ingest.py`` measured 8 ms of the web process's CPU per delivery, and it stopped accepting
more than about 90 a second on two cores. Here a POST is read, checked by the same functions as the
view (``webhooks``), and handed to ``DeliveryIntake``, which stores the POSTs arriving together with
one INSERT and one commit (group commit) in one thread; each POST is answered once its row is
committed, exactly as the view answers.

Only ``POST /twitter/webhook/`` over an allowed host takes this path. Everything else (the CRC's
GET, other methods and paths, a host not in ``ALLOWED_HOSTS``, plain HTTP when ``SECURE_SSL_REDIRECT``
is on) goes to Django unchanged, which answers it as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from asgiref.sync import AsyncToSync, ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django.http.request import split_domain_port, validate_host
from django.urls import get_script_prefix, reverse
from django.utils.http import parse_header_parameters

from twitter_channel.inbound import webhook_checks as webhooks
from twitter_channel.inbound.deliveries import deliveries_receive

log = logging.getLogger(__name__)

Scope = dict[str, Any]
_JSON = [(b"content-type", b"application/json")]


class WebhookFastPath:
    """ASGI middleware: answers X's webhook POSTs itself and hands every other request to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.intake = DeliveryIntake()
        self._path: str | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if not self._takes(scope):
            await self.app(scope, receive, send)
            return
        status, answer = await self._post(scope, receive)
        if status is None:
            return  # the client went away before sending the whole body
        body = json.dumps(answer).encode()
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _takes(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        if self._path is None:
            self._path = "/" + reverse("x_webhook").removeprefix(get_script_prefix())
        path = scope["path"].removeprefix(scope.get("root_path", "").rstrip("/"))
        if path != self._path:
            return False
        if settings.SECURE_SSL_REDIRECT and scope.get("scheme") == "http" and not _forwarded_https(scope):
            return False
        host = _header(scope, b"host") or ""
        domain, _port = split_domain_port(host)
        return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)

    async def _post(self, scope: Scope, receive: Any) -> tuple[int | None, dict[str, Any]]:
        secret = settings.X_CONSUMER_SECRET
        limit = settings.X_WEBHOOK_MAX_BYTES
        try:
            if not secret:
                raise webhooks.not_configured()
            webhooks.check_declared_length(_header(scope, b"content-length"), limit=limit)
            body = await _read_at_most(receive, limit + 1)
            if body is None:
                return None, {}
            webhooks.check_length(len(body), limit=limit)
            content_type, params = parse_header_parameters(_header(scope, b"content-type") or "")
            webhooks.delivery_payload(
                consumer_secret=secret,
                body=body,
                signature=_header(scope, webhooks.SIGNATURE_HEADER.encode()),
                content_type=content_type,
                charset=params.get("charset"),
            )
            delivery_id = await self.intake.store(body.decode("utf-8"))
        except webhooks.Refused as refused:
            return refused.status, webhooks.refusal_body(refused)
        return 200, {"received": True, "delivery_id": delivery_id}


class DeliveryIntake:
    """Stores webhook bodies with group commit: one INSERT and one commit for all that arrive meanwhile.

    ``store`` queues the body and waits. One flush at a time runs ``deliveries_receive`` with everything
    queued; what arrives while it runs goes with the next one. A flush the database refuses fails only its
    own POSTs (503, so X sends them again). State is per event loop (tests run one per test).

    The flushes run in a thread of their own (``ThreadSensitiveContext``), not in the one thread the rest of
    the process's thread-sensitive sync code shares (websocket presence, Channels' database calls): that
    code may wait seconds on a Redis that is frozen, and X's POSTs must be answered the moment their rows
    commit whatever else is stuck. Called from a sync thread (``async_to_sync``, as the tests do), the flush
    runs in that thread instead, as thread-sensitive code always does.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queued: list[tuple[str, asyncio.Future[int]]] = []
        self._flushing = False
        self._own_thread = ThreadSensitiveContext()

    async def store(self, body: str) -> int:
        """Store ``body``; return its ``WebhookDelivery`` id once committed. Raises ``webhooks.Refused`` (503)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._queued, self._flushing = loop, [], False
        answer: asyncio.Future[int] = loop.create_future()
        self._queued.append((body, answer))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        return await answer

    async def _flush(self) -> None:
        if asyncio.get_running_loop() not in AsyncToSync.loop_thread_executors:
            # Entered and never left: this task's thread-sensitive calls go to the context's one thread, which
            # lives as long as the intake (leaving the context would shut the thread down). A loop that
            # ``async_to_sync`` runs for a sync thread (a test) sends them to that thread, inside its transaction.
            await self._own_thread.__aenter__()
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    ids = await _store_together([body for body, _ in batch])
                except Exception:  # whatever it was, each waiting POST must be answered (503: X sends it again)
                    log.exception("Could not store %d webhook deliveries", len(batch))
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(webhooks.store_failed())
                    continue
                for (_, answer), delivery_id in zip(batch, ids, strict=True):
                    if not answer.done():
                        answer.set_result(delivery_id)
        finally:
            self._flushing = False


@sync_to_async
def _store_together(bodies: list[str]) -> list[int]:
    _connections_checked()
    try:
        return [delivery.pk for delivery in deliveries_receive(bodies=bodies)]
    finally:
        _connections_checked()


def _connections_checked() -> None:
    """What Django does around each request: a connection that broke is replaced, not reused.

    Not inside a transaction this thread did not open (the test suite runs each test in one).
    """
    if not connection.in_atomic_block:
        close_old_connections()


async def _read_at_most(receive: Any, size: int) -> bytes | None:
    """Up to ``size`` bytes of the body: never more, however much the client sends; None if it went away."""
    chunks: list[bytes] = []
    length = 0
    while length < size:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        length += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)[:size]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _forwarded_https(scope: Scope) -> bool:
    """``SECURE_PROXY_SSL_HEADER`` as Django reads it (the proxy says the request came over HTTPS)."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if not proxy:
        return False
    meta_name, expected = proxy
    name = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode()
    return (_header(scope, name) or "").split(",")[0].strip() == expected
