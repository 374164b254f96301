"""v2 webhooks (x-api.md §7.1–§7.2), Account Activity subscriptions (§7.5), v1.1 typing and read (§9.6).

Failures name X's documented reason (``CrcValidationFailed``, ``DuplicateUrlFailed``, …) at the start
of ``errors[0].message`` in an invalid-request problem; the exact wire form is UNCONFIRMED.
Unlike X, ``http://`` URLs and URLs with a port are accepted: webhooks here are local servers.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.urls import path

from twitter_channel.sandbox import clock, delivery, ids, problems, serialize
from twitter_channel.sandbox.api import AppCaller, Caller, Result, endpoint, json_body
from twitter_channel.sandbox.models import App, DmEvent, Subscription, Webhook, XUser

WEBHOOK_LIMIT = 5
SUBSCRIPTION_LIMIT = 50
MAX_URL = 200
SUBSCRIBE = frozenset({"dm.read", "dm.write", "tweet.read", "users.read"})
TYPING = frozenset({"dm.write"})
ID = re.compile(r"^[0-9]{1,19}$")


def failure(reason: str, message: str) -> problems.Problem:
    return problems.invalid_request(f"{reason}: {message}")


def webhook_json(webhook: Webhook) -> dict[str, object]:
    return {"created_at": serialize.timestamp(webhook.created_at), "id": webhook.webhook_id, "url": webhook.url,
            "valid": webhook.valid}  # fmt: skip


def _webhook(app: App, webhook_id: str) -> Webhook:
    found = Webhook.objects.filter(app=app, webhook_id=webhook_id).first() if ID.match(webhook_id) else None
    if found is None:
        raise failure("WebhookIdInvalid", f"No webhook {webhook_id} is registered for this application.")
    return found


def _checked_url(app: App, body: dict[str, object]) -> str:
    url = body.get("url")
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL:
        raise problems.invalid_request(f"`url` must be a string of 1 to {MAX_URL} characters.", {"url": [str(url)]})
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise failure("UrlValidationFailed", "The URL must be an absolute http(s) URL without a fragment.")
    if Webhook.objects.filter(app=app, url=url).exists():
        raise failure("DuplicateUrlFailed", "A webhook with this URL is already registered for this application.")
    if Webhook.objects.filter(app=app).count() >= WEBHOOK_LIMIT:
        raise failure("WebhookLimitExceeded", f"This application may register at most {WEBHOOK_LIMIT} webhooks.")
    return url


def _validate(webhook: Webhook) -> None:
    """Run the CRC; the webhook's validity follows the answer (400 problem when it is wrong)."""
    error = delivery.crc_check(webhook)
    webhook.valid = error is None
    webhook.last_crc_at = clock.now()
    Webhook.objects.filter(pk=webhook.pk).update(valid=webhook.valid, last_crc_at=webhook.last_crc_at)
    if error is not None:
        raise failure("CrcValidationFailed", error)


@endpoint("webhooks", methods=("GET", "POST"), app_only=True)
def webhooks(request: HttpRequest, caller: AppCaller) -> Result:
    if request.method == "GET":
        found = [webhook_json(w) for w in Webhook.objects.filter(app=caller.app).order_by("pk")]
        return Result({"data": found, "meta": {"result_count": len(found)}})
    url = _checked_url(caller.app, json_body(request))
    webhook = Webhook.objects.create(
        webhook_id=str(ids.snowflake()), app=caller.app, url=url, valid=False, created_at=clock.now()
    )
    _validate(webhook)
    return Result({"data": webhook_json(webhook)})


@endpoint("webhooks", methods=("PUT", "DELETE"), app_only=True)
def webhook(request: HttpRequest, caller: AppCaller, webhook_id: str) -> Result:
    found = _webhook(caller.app, webhook_id)
    if request.method == "DELETE":
        found.delete()
        return Result({"data": {"deleted": True}})
    _validate(found)
    return Result({"data": {"valid": True}})


@endpoint("subscriptions", methods=("GET", "POST"), scopes=SUBSCRIBE)
def subscription(request: HttpRequest, caller: Caller, webhook_id: str) -> Result:
    """The caller's own subscription: create it (POST) or ask whether it exists (GET)."""
    found = _webhook(caller.app, webhook_id)
    existing = Subscription.objects.filter(webhook=found, user=caller.user)
    if request.method == "GET":
        return Result({"data": {"subscribed": existing.exists()}})
    if existing.exists():
        raise failure("DuplicateSubscriptionFailed", "This user is already subscribed to this webhook.")
    if Subscription.objects.filter(webhook__app=caller.app).count() >= SUBSCRIPTION_LIMIT:
        raise failure("SubscriptionLimitExceeded", f"This application may have {SUBSCRIPTION_LIMIT} subscriptions.")
    Subscription.objects.create(webhook=found, user=caller.user, created_at=clock.now())
    return Result({"data": {"subscribed": True}})


@endpoint("webhooks", methods=("GET",), app_only=True)
def subscription_list(request: HttpRequest, caller: AppCaller, webhook_id: str) -> Result:
    found = _webhook(caller.app, webhook_id)
    users = found.subscriptions.order_by("pk").values_list("user__x_id", flat=True)
    return Result({"data": {"application_id": caller.app.app_id, "webhook_id": found.webhook_id,
                            "webhook_url": found.url, "subscriptions": [{"user_id": u} for u in users]}})  # fmt: skip


@endpoint("webhooks", methods=("DELETE",), app_only=True)
def subscription_delete(request: HttpRequest, caller: AppCaller, webhook_id: str, user_id: str) -> Result:
    deleted, _ = Subscription.objects.filter(webhook=_webhook(caller.app, webhook_id), user__x_id=user_id).delete()
    if not deleted:
        raise failure("SubscriptionNotFound", f"User {user_id} is not subscribed to webhook {webhook_id}.")
    return Result({"data": {"subscribed": False}})


@endpoint("webhooks", methods=("GET",), app_only=True)
def subscription_count(request: HttpRequest, caller: AppCaller) -> Result:
    count = Subscription.objects.filter(webhook__app=caller.app).count()
    return Result({"data": {"account_name": caller.app.name, "provisioned_count": str(SUBSCRIPTION_LIMIT),
                            "subscriptions_count_all": str(count),
                            "subscriptions_count_direct_messages": "0"}})  # fmt: skip


class V1Error(Exception):
    """A v1.1 error: ``{"errors": [{"code", "message"}]}`` as plain JSON, not a problem."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.result = Result({"errors": [{"code": code, "message": message}]}, status=status)


def _v1_params(request: HttpRequest, *names: str) -> dict[str, str]:
    """v1.1 parameters come in the query string or a form body (tweepy sends the query string)."""
    values = {name: request.POST.get(name) or request.GET.get(name) or "" for name in names}
    for name, value in values.items():
        if not value:
            raise V1Error(400, 38, f"{name} parameter is missing.")
        if not ID.match(value):
            raise V1Error(400, 214, f"{name} is not a valid id.")
    return values


def _v1_user(x_id: str) -> XUser:
    found = XUser.objects.filter(x_id=x_id).first()
    if found is None:
        raise V1Error(404, 50, "User not found.")
    return found


def _no_content() -> Result:
    return Result({}, status=204, content=b"")


@endpoint("typing", methods=("POST",), scopes=TYPING)
def indicate_typing(request: HttpRequest, caller: Caller) -> Result:
    try:
        recipient = _v1_user(_v1_params(request, "recipient_id")["recipient_id"])
    except V1Error as error:
        return error.result
    delivery.indicate_typing(caller.user, recipient)
    return _no_content()


@endpoint("typing", methods=("POST",), scopes=TYPING)
def mark_read(request: HttpRequest, caller: Caller) -> Result:
    try:
        params = _v1_params(request, "last_read_event_id", "recipient_id")
        other = _v1_user(params["recipient_id"])
        if not DmEvent.objects.filter(event_id=params["last_read_event_id"]).exists():
            raise V1Error(404, 34, "Sorry, that page does not exist.")
    except V1Error as error:
        return error.result
    delivery.mark_read(caller.user, other, params["last_read_event_id"])
    return _no_content()


urlpatterns = [
    path("2/webhooks", webhooks),
    path("2/webhooks/<str:webhook_id>", webhook),
    path("2/account_activity/webhooks/<str:webhook_id>/subscriptions/all", subscription),
    path("2/account_activity/webhooks/<str:webhook_id>/subscriptions/all/list", subscription_list),
    path("2/account_activity/webhooks/<str:webhook_id>/subscriptions/<str:user_id>/all", subscription_delete),
    path("2/account_activity/subscriptions/count", subscription_count),
    path("1.1/direct_messages/indicate_typing.json", indicate_typing),
    path("1.1/direct_messages/mark_read.json", mark_read),
]
