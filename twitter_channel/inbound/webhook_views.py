"""``/twitter/webhook/``, the URL X calls: the CRC on GET, signed event deliveries on POST.

Thin: the request is checked with ``webhooks`` (pure functions), a good delivery is stored by
``deliveries.delivery_receive`` and answered 200 at once; it is processed after commit by a worker.
Every refusal is a JSON ``{"error": <code>, "detail": <message>}`` with a 4xx (or 503 when this
server cannot check anything), and stores nothing.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt

from twitter_channel.connection.webhook_registration import crc_answered
from twitter_channel.inbound import webhook_checks as webhooks
from twitter_channel.inbound.deliveries import delivery_receive

_READ_CHUNK = 64 * 1024

log = logging.getLogger(__name__)


def _refused(refused: webhooks.Refused) -> JsonResponse:
    return JsonResponse(webhooks.refusal_body(refused), status=refused.status)


@csrf_exempt
async def webhook(request: HttpRequest) -> JsonResponse:
    """Async: X's POSTs are the hottest path of the site; only storing the delivery leaves the event loop."""
    if request.method == "GET":
        return await _crc(request)
    if request.method == "POST":
        return await _delivery(request)
    response = _refused(
        webhooks.Refused(
            405, "method_not_allowed", f"{request.method} is not allowed here: X sends GET (CRC) and POST (events)."
        )
    )
    response["Allow"] = "GET, POST"
    return response


async def _crc(request: HttpRequest) -> JsonResponse:
    secret = settings.X_CONSUMER_SECRET
    if not secret:
        return _refused(webhooks.not_configured())
    token = request.GET.get("crc_token")
    problem = webhooks.crc_token_problem(token)
    if problem is not None:
        return _refused(webhooks.Refused(400, "bad_crc_token", problem))
    assert token is not None  # a missing token is a problem
    response = JsonResponse(webhooks.crc_response(consumer_secret=secret, crc_token=token))
    try:
        await sync_to_async(crc_answered)()
    except DatabaseError:
        log.exception("Could not record that a CRC was answered")  # the answer matters more than the record
    response["Cache-Control"] = "no-store"
    return response


async def _delivery(request: HttpRequest) -> JsonResponse:
    """Under ASGI, ``webhook_asgi`` answers these POSTs before Django; this serves WSGI and the test client."""
    secret = settings.X_CONSUMER_SECRET
    limit = settings.X_WEBHOOK_MAX_BYTES
    try:
        if not secret:
            raise webhooks.not_configured()
        webhooks.check_declared_length(request.META.get("CONTENT_LENGTH"), limit=limit)
        try:
            body = _read_at_most(request, limit + 1)
        except UnreadablePostError as exc:
            raise webhooks.Refused(400, "unreadable_body", f"The body could not be read: {exc}.") from exc
        webhooks.check_length(len(body), limit=limit)
        webhooks.delivery_payload(
            consumer_secret=secret,
            body=body,
            signature=request.headers.get(webhooks.SIGNATURE_HEADER),
            # Both are set from the Content-Type header (empty without one) on every request a handler makes.
            content_type=request.content_type or "",
            charset=(request.content_params or {}).get("charset"),
        )
        try:
            delivery = await sync_to_async(delivery_receive)(body=body.decode("utf-8"))
        except DatabaseError as exc:
            log.exception("Could not store a webhook delivery")
            raise webhooks.store_failed() from exc
    except webhooks.Refused as refused:
        return _refused(refused)
    return JsonResponse({"received": True, "delivery_id": delivery.pk})


def _read_at_most(request: HttpRequest, size: int) -> bytes:
    """Up to ``size`` bytes of the body: never more, however much the client sends."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = request.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
