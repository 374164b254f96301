"""The sandbox's own API under ``/sandbox/api/``: set the world up and look inside it from tests.

Not part of X. It has no authentication: the sandbox is a local tool.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from twitter_channel.sandbox import clock, delivery, problems, ratelimit, world
from twitter_channel.sandbox.models import App, Conversation, Delivery, DmEvent, Fault, Media, Token, XUser

ALL_SCOPES = "dm.read dm.write tweet.read users.read offline.access media.write"


class ControlError(Exception):
    pass


def control(*methods: str) -> Callable:
    def decorate(view: Callable[..., Any]) -> Callable[..., JsonResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> JsonResponse:
            if request.method not in methods:
                return JsonResponse({"error": f"use {' or '.join(methods)}"}, status=405)
            try:
                body = json.loads(request.body or b"{}") if request.method in ("POST", "PUT") else {}
                if not isinstance(body, dict):
                    raise ControlError("the body must be a JSON object")
                result = view(request, body, **kwargs)
            except (ControlError, ObjectDoesNotExist, ValueError, KeyError, TypeError) as exc:
                return JsonResponse({"error": str(exc) or type(exc).__name__}, status=400)
            except problems.Problem as problem:
                return problems.response(problem)
            status = 201 if request.method == "POST" else 200
            return JsonResponse(result, status=status, safe=False, json_dumps_params={"ensure_ascii": False})

        return wrapper

    return decorate


def _user_json(user: XUser) -> dict[str, Any]:
    return {"id": user.x_id, "username": user.username, "name": user.name, "is_business": user.is_business,
            "accepts_dms": user.accepts_dms, "profile_image_url": user.profile_image_url}  # fmt: skip


def _find_user(value: str | None) -> XUser:
    user = XUser.objects.filter(x_id=value).first() or XUser.objects.filter(username__iexact=value or "").first()
    if user is None:
        raise ControlError(f"no sandbox user {value!r}")
    return user


@control("GET")
def health(request: HttpRequest, body: dict) -> dict:
    return {"ok": True, "now": clock.now().isoformat()}


@control("POST")
def reset(request: HttpRequest, body: dict) -> dict:
    with transaction.atomic():
        for model in reversed(list(apps.get_app_config("x_sandbox").get_models())):
            model._default_manager.all().delete()
        world.seed()
    clock.reset()
    ratelimit.clear_overrides()
    return {"ok": True}


@control("GET")
def app_credentials(request: HttpRequest, body: dict) -> dict:
    app = world.default_app()
    return {"app_id": app.app_id, "client_id": app.client_id, "client_secret": app.client_secret,
            "consumer_key": app.consumer_key, "consumer_secret": app.consumer_secret,
            "bearer_token": app.bearer_token}  # fmt: skip


@control("GET", "POST")
def users(request: HttpRequest, body: dict) -> dict | list:
    if request.method == "GET":
        return [_user_json(u) for u in XUser.objects.order_by("pk")]
    profile = {k: body[k] for k in ("description", "location", "profile_image_url", "verified", "protected",
                                    "followers_count", "accepts_dms") if k in body}  # fmt: skip
    user = world.user_create(username=body["username"], name=body.get("name") or body["username"],
                             x_id=body.get("id"), is_business=bool(body.get("is_business")), **profile)  # fmt: skip
    return _user_json(user)


@control("POST")
def tokens(request: HttpRequest, body: dict) -> dict:
    user = _find_user(body.get("user"))
    app = App.objects.get(client_id=body["client_id"]) if body.get("client_id") else world.default_app()
    token = world.token_issue(user=user, app=app, scopes=body.get("scopes", ALL_SCOPES))
    return {"token_type": "bearer", "access_token": token.access_token, "refresh_token": token.refresh_token,
            "expires_in": world.ACCESS_TOKEN_SECONDS, "scope": token.scopes}  # fmt: skip


@control("POST")
def advance_clock(request: HttpRequest, body: dict) -> dict:
    return {"now": clock.advance(float(body["seconds"])).isoformat()}


@control("GET", "POST", "DELETE")
def faults(request: HttpRequest, body: dict) -> dict | list:
    if request.method == "DELETE":
        Fault.objects.all().delete()
        return {"ok": True}
    if request.method == "POST":
        kind = body["kind"]
        if kind not in Fault.Kind.values:
            raise ControlError(f"kind must be one of {Fault.Kind.values}")
        if (body.get("count") is None) == (body.get("percent") is None):
            raise ControlError("give exactly one of `count` (next N requests) or `percent`")
        Fault.objects.create(kind=kind, method=body.get("method", ""), path_prefix=body.get("path", ""),
                             remaining=body.get("count"), percent=body.get("percent"),
                             seconds=float(body.get("seconds", 0)), created_at=clock.now())  # fmt: skip
    return [{"kind": f.kind, "method": f.method, "path": f.path_prefix, "remaining": f.remaining,
             "percent": f.percent, "seconds": f.seconds} for f in Fault.objects.order_by("pk")]  # fmt: skip


@control("POST")
def rate_limits(request: HttpRequest, body: dict) -> dict:
    windows = [(int(seconds), int(limit)) for seconds, limit in body["windows"]]
    ratelimit.override(body["endpoint"], body["scope"], windows)
    return {"endpoint": body["endpoint"], "scope": body["scope"], "windows": windows}


@control("GET")
def counters(request: HttpRequest, body: dict) -> dict:
    """What the sandbox accepted: rate windows, and DM messages per sender."""
    sent: dict[str, int] = {}
    for sender_id in DmEvent.objects.filter(event_type="MessageCreate").values_list("sender__x_id", flat=True):
        sent[sender_id] = sent.get(sender_id, 0) + 1
    return {"rate_windows": ratelimit.counters(), "messages_by_sender": sent,
            "conversations": Conversation.objects.count(), "media": Media.objects.count(),
            "tokens_issued": Token.objects.count(),
            "tokens_refreshed": Token.objects.filter(refresh_used=True).count(),
            "tokens_revoked": Token.objects.filter(revoked=True, refresh_used=False).count()}  # fmt: skip


@control("POST")
def posts(request: HttpRequest, body: dict) -> dict:
    post = world.post_create(author=_find_user(body.get("author")), text=body["text"])
    return {"id": post.post_id, "text": post.text, "author_id": post.author.x_id}


@control("POST")
def send_as(request: HttpRequest, body: dict, user: str) -> dict:
    """Act as sandbox user ``user``: send a DM to ``to`` (a user) or into ``conversation_id``."""
    sender = _find_user(user)
    if body.get("conversation_id"):
        conversation = Conversation.objects.get(conversation_id=body["conversation_id"])
    else:
        conversation = world.conversation_one_to_one(sender, _find_user(body.get("to")))
    media = Media.objects.get(media_id=body["media_id"]) if body.get("media_id") else None
    event = world.dm_send(sender=sender, conversation=conversation, text=body.get("text", ""), media=media,
                          quick_reply=body.get("quick_reply"), quick_reply_response=body.get("quick_reply_response"),
                          initiated_via=body.get("initiated_via"))  # fmt: skip
    return {"dm_event_id": event.event_id, "dm_conversation_id": conversation.conversation_id}


@control("POST")
def typing_to(request: HttpRequest, body: dict, user: str) -> dict:
    """Act as ``user``: type to ``to`` (what ``indicate_typing.json`` does)."""
    return {"deliveries": len(delivery.indicate_typing(_find_user(user), _find_user(body.get("to"))))}


@control("POST")
def read_receipt(request: HttpRequest, body: dict, user: str) -> dict:
    """Act as ``user``: read ``to``'s messages up to ``last_read_event_id`` (``mark_read.json``)."""
    reader, other = _find_user(user), _find_user(body.get("to"))
    return {"deliveries": len(delivery.mark_read(reader, other, str(body["last_read_event_id"])))}


@control("GET")
def deliveries(request: HttpRequest, body: dict) -> list:
    """Webhook deliveries, oldest first: status, attempts, last error and the payload sent."""
    return [delivery.as_json(d) for d in Delivery.objects.select_related("webhook").order_by("pk")]
