"""Signed webhook delivery (x-api.md §7.2–§7.4): one ``Delivery`` row per POST, sent by a worker thread.

Every DM of a subscribed user, inbound and the echo of its own outbound ones, goes to each valid
webhook subscribed for that user; two subscribed users in one conversation get one POST each.
A POST succeeds on HTTP 200 within ``SANDBOX["WEBHOOK_TIMEOUT"]`` seconds (3 s, unscaled);
otherwise it is retried after 3 s, 27 s and 242 s (times ``TIME_SCALE``) and given up after the
fourth attempt. Webhook faults are taken when a delivery is queued: ``webhook_delay`` holds it for
``seconds``, ``webhook_duplicate`` queues it twice, ``webhook_reorder`` holds it until the next
delivery to the same webhook has been sent (at most ``REORDER_HOLD_LIMIT`` seconds).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import QuerySet

from twitter_channel.sandbox import aaa, clock, faults
from twitter_channel.sandbox.models import Delivery, DmEvent, Fault, Webhook, XUser

logger = logging.getLogger(__name__)

RETRY_WAITS = (3.0, 27.0, 242.0)
MAX_ATTEMPTS = len(RETRY_WAITS) + 1
POLL_SECONDS = 0.05
REORDER_HOLD_LIMIT = 60.0
HELD = "held by a webhook_reorder fault until the next delivery is sent"
MAX_ERROR = 500

_base_url = "http://127.0.0.1:8765"


def set_base_url(url: str) -> None:
    """Where the sandbox is served: media URLs in payloads point at it."""
    global _base_url
    _base_url = url.rstrip("/")


def timeout() -> float:
    return float(settings.SANDBOX.get("WEBHOOK_TIMEOUT", 3.0))


def sign(secret: str, message: bytes | str) -> str:
    """``sha256=`` + base64(HMAC-SHA256(secret, message)): CRC response tokens and POST signatures."""
    data = message.encode() if isinstance(message, str) else message
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha256).digest()).decode()


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # webhooks are local: no proxy from the environment
    return session


def crc_check(webhook: Webhook) -> str | None:
    """GET the webhook with a fresh ``crc_token``: None when it answers right, else what went wrong."""
    token = secrets.token_urlsafe(32)
    try:
        with _session() as session:
            response = session.get(webhook.url, params={"crc_token": token}, timeout=timeout(), allow_redirects=False)
    except requests.RequestException as exc:
        return f"The CRC GET request failed ({type(exc).__name__})."
    if response.status_code != 200:
        return f"Non-200 response code during CRC GET request: {response.status_code}."
    try:
        answer = response.json()
    except ValueError:
        return "The CRC response is not JSON."
    expected = sign(webhook.app.consumer_secret, token)
    if not isinstance(answer, dict) or not hmac.compare_digest(str(answer.get("response_token", "")), expected):
        return "Invalid response_token."
    return None


def subscribed_webhooks(user: XUser) -> QuerySet[Webhook]:
    return Webhook.objects.filter(valid=True, subscriptions__user=user).select_related("app").order_by("pk")


def enqueue(webhook: Webhook, payload: dict[str, Any]) -> list[Delivery]:
    """Queue ``payload`` for ``webhook``, applying the next matching webhook fault."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    now = clock.now()
    due, note, copies = now, "", 1
    with transaction.atomic():
        fault = faults.take(method="POST", path=urlsplit(webhook.url).path or "/", kinds=set(faults.WEBHOOK_KINDS))
        if fault is not None and fault.kind == Fault.Kind.WEBHOOK_DELAY:
            due = now + timedelta(seconds=fault.seconds)
        elif fault is not None and fault.kind == Fault.Kind.WEBHOOK_REORDER:
            due, note = now + timedelta(seconds=REORDER_HOLD_LIMIT), HELD
        elif fault is not None and fault.kind == Fault.Kind.WEBHOOK_DUPLICATE:
            copies = 2
        return [
            Delivery.objects.create(webhook=webhook, body=body, next_attempt_at=due, last_error=note, created_at=now)
            for _ in range(copies)
        ]


def _deliver_to_users(users: list[XUser], payload_for: Callable[[XUser], dict[str, Any] | None]) -> list[Delivery]:
    queued: list[Delivery] = []
    for user in users:
        webhooks = list(subscribed_webhooks(user))
        payload = payload_for(user) if webhooks else None
        if payload is None:
            continue
        for webhook in webhooks:
            queued.extend(enqueue(webhook, payload))
    return queued


def deliver_event(event: DmEvent) -> list[Delivery]:
    """Queue the AAA payload of a new DM event for every subscribed active member of its conversation."""
    loaded = DmEvent.objects.select_related("sender", "media", "source_app", "conversation").filter(pk=event.pk).first()
    if loaded is None or loaded.event_type != DmEvent.EventType.MESSAGE_CREATE:
        return []
    members = XUser.objects.filter(
        memberships__conversation=loaded.conversation, memberships__left_at__isnull=True
    ).order_by("pk")
    return _deliver_to_users(list(members), lambda user: aaa.message_payload(loaded, user, _base_url))


def on_dm_event_created(sender: Any, event: DmEvent, **kwargs: Any) -> None:
    try:
        deliver_event(event)
    except Exception:
        logger.exception("could not queue webhook deliveries for DM event %s", event.event_id)


def indicate_typing(sender: XUser, recipient: XUser) -> list[Delivery]:
    """``sender`` is typing to ``recipient``: tell the recipient's webhooks."""
    at = clock.now()
    return _deliver_to_users(
        [recipient], lambda user: aaa.typing_payload(for_user=user, sender=sender, recipient=recipient, at=at)
    )


def mark_read(reader: XUser, other: XUser, last_read_event_id: str) -> list[Delivery]:
    """``reader`` read ``other``'s messages up to ``last_read_event_id``: tell ``other``'s webhooks."""
    at = clock.now()
    return _deliver_to_users(
        [other],
        lambda user: aaa.read_payload(
            for_user=user, sender=reader, recipient=other, last_read_event_id=last_read_event_id, at=at
        ),
    )


def post(webhook: Webhook, body: bytes) -> str | None:
    """POST a signed body: None on HTTP 200 in time, else the error."""
    headers = {"Content-Type": "application/json",
               "x-twitter-webhooks-signature": sign(webhook.app.consumer_secret, body)}  # fmt: skip
    limit = timeout()
    started = time.monotonic()
    try:
        with _session() as session:
            response = session.post(webhook.url, data=body, headers=headers, timeout=limit, allow_redirects=False)
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    elapsed = time.monotonic() - started
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    if elapsed > limit:
        return f"answered after {elapsed:.1f} s (limit {limit:g} s)"
    return None


def attempt(delivery: Delivery) -> None:
    """One POST of ``delivery``, then its new state; the row is updated, never re-saved (resets delete it)."""
    webhook = delivery.webhook
    if not webhook.valid:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, last_error="The webhook is not valid: X does not deliver to it."
        )
        return
    error = post(webhook, bytes(delivery.body))
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {"attempts": attempts}
    if error is None:
        fields["status"] = Delivery.Status.DELIVERED
        if delivery.last_error == HELD:
            fields["last_error"] = ""
    else:
        fields["last_error"] = error
        if attempts >= MAX_ATTEMPTS:
            fields["status"] = Delivery.Status.FAILED
        else:
            wait = RETRY_WAITS[attempts - 1] * settings.SANDBOX["TIME_SCALE"]
            fields["next_attempt_at"] = clock.now() + timedelta(seconds=wait)
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    Delivery.objects.filter(webhook=webhook, status=Delivery.Status.PENDING, last_error=HELD).exclude(
        pk=delivery.pk
    ).update(next_attempt_at=clock.now(), last_error="")


def deliver_due() -> bool:
    """Attempt the delivery that has waited longest; False when none is due."""
    delivery = (
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=clock.now())
        .select_related("webhook__app")
        .order_by("next_attempt_at", "pk")
        .first()
    )
    if delivery is None:
        return False
    try:
        attempt(delivery)
    except DatabaseError:
        raise
    except Exception as exc:
        logger.exception("webhook delivery %s failed in the sandbox", delivery.pk)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, last_error=f"sandbox error: {exc!r}"[:MAX_ERROR]
        )
    return True


class Worker(threading.Thread):
    """Sends due deliveries one at a time, in order; survives anything a loop raises."""

    def __init__(self) -> None:
        super().__init__(name="x-sandbox-webhooks", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            busy = False
            try:
                close_old_connections()
                busy = deliver_due()
            except Exception:
                logger.exception("webhook delivery loop failed; carrying on")
            if not busy:
                self.stopping.wait(POLL_SECONDS)
        connection.close()

    def stop(self) -> None:
        self.stopping.set()


def start_worker() -> Worker:
    worker = Worker()
    worker.start()
    return worker


def as_json(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the control API lists it."""
    try:
        payload = json.loads(bytes(delivery.body))
    except ValueError:
        payload = None
    return {
        "id": delivery.pk,
        "webhook_id": delivery.webhook.webhook_id,
        "url": delivery.webhook.url,
        "for_user_id": payload.get("for_user_id") if isinstance(payload, dict) else None,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
        "next_attempt_at": delivery.next_attempt_at.isoformat(),
        "payload": payload,
    }
