"""v2 media upload (x-api.md §8) and DM media download; the rules live in ``mediastore``."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from twitter_channel.sandbox import clock, mediastore, problems
from twitter_channel.sandbox.api import Caller, Result, endpoint, json_body, query
from twitter_channel.sandbox.models import Media

WRITE = frozenset({"media.write"})
DOWNLOAD = frozenset({"dm.read"})
INIT_FIELDS = {"media_type", "total_bytes", "media_category", "shared", "additional_owners"}
USER_ID = re.compile(r"^[0-9]{1,19}$")


def _upload(media: Media) -> Result:
    return Result({"data": mediastore.upload_body(media)})


def _form(request: HttpRequest) -> dict[str, Any]:
    """The request's fields: a JSON object, or multipart / urlencoded form fields."""
    if request.content_type == "application/json":
        return json_body(request)
    return {name: request.POST.get(name) for name in request.POST}


def _total_bytes(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise problems.invalid_request("`total_bytes` must be a positive integer.", {"total_bytes": [str(value)]})


def _shared(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _additional_owners(value: Any) -> list[str]:
    owners = value.split(",") if isinstance(value, str) else value
    if owners is None:
        return []
    if not isinstance(owners, list) or not all(isinstance(o, str) and USER_ID.match(o) for o in owners):
        raise problems.invalid_request("`additional_owners` must list user ids.", {"additional_owners": [str(value)]})
    return owners


def _default_category(mime: str) -> str:
    return "tweet_video" if mime.startswith("video/") else "tweet_image"


def _initialize(caller: Caller, fields: dict[str, Any]) -> Media:
    unknown = set(fields) - INIT_FIELDS
    if unknown:
        raise problems.invalid_request(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    mime = fields.get("media_type")
    if not isinstance(mime, str) or not mime:
        raise problems.invalid_request("`media_type` is required.", {"media_type": [str(mime)]})
    _additional_owners(fields.get("additional_owners"))
    return mediastore.media_initialize(
        owner=caller.user,
        mime=mime,
        total_bytes=_total_bytes(fields.get("total_bytes")),
        category=str(fields.get("media_category") or _default_category(mime)),
        shared=_shared(fields.get("shared")),
    )


def _payload(request: HttpRequest, fields: dict[str, Any]) -> bytes:
    """The ``media`` file part, or base64 ``media`` / ``media_data`` text."""
    upload = request.FILES.get("media")
    if upload is not None:
        return upload.read()
    encoded = fields.get("media") or fields.get("media_data")
    if not isinstance(encoded, str) or not encoded:
        raise problems.invalid_request("`media` is required.", {"media": [""]})
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise problems.invalid_request("`media` is not valid base64.", {"media": ["..."]}) from exc


def _append(request: HttpRequest, caller: Caller, media_id: str, fields: dict[str, Any]) -> Result:
    media = mediastore.media_append(
        owner=caller.user, media_id=media_id, index=fields.get("segment_index"), data=_payload(request, fields)
    )
    expires_at = int(clock.now().timestamp()) + mediastore.expires_after_secs(media)
    return Result({"data": {"expires_at": expires_at}})


@endpoint("media_write", methods=("POST",), scopes=WRITE)
def initialize(request: HttpRequest, caller: Caller) -> Result:
    return _upload(_initialize(caller, json_body(request)))


@endpoint("media_write", methods=("POST",), scopes=WRITE)
def append(request: HttpRequest, caller: Caller, media_id: str) -> Result:
    return _append(request, caller, media_id, _form(request))


@endpoint("media_write", methods=("POST",), scopes=WRITE)
def finalize(request: HttpRequest, caller: Caller, media_id: str) -> Result:
    return _upload(mediastore.media_finalize(owner=caller.user, media_id=media_id))


@endpoint("media_status", methods=("GET",), scopes=WRITE)
def status(request: HttpRequest, caller: Caller) -> Result:
    params = query(request, {"command": ("STATUS",), "media_id": None})
    media = mediastore.owned(caller.user, params.get("media_id", ""))
    if not media.finalized:
        raise problems.invalid_request(f"Media id {media.media_id} is not finalized.", {"media_id": [media.media_id]})
    return Result({"data": mediastore.upload_body(media, status=True)})


@endpoint("media_write", methods=("POST",), scopes=WRITE)
def upload_command(request: HttpRequest, caller: Caller) -> Result:
    """The single URL: ``command=INIT|APPEND|FINALIZE``, or a one-shot upload of ``media``."""
    fields = _form(request)
    command = fields.pop("command", None)
    if command == "INIT":
        return _upload(_initialize(caller, fields))
    if command == "APPEND":
        return _append(request, caller, str(fields.pop("media_id", "")), fields)
    if command == "FINALIZE":
        return _upload(mediastore.media_finalize(owner=caller.user, media_id=str(fields.get("media_id", ""))))
    if command is not None:
        raise problems.invalid_request(
            f"The `command` value [{command}] is not one of [INIT,APPEND,FINALIZE]", {"command": [str(command)]}
        )
    return _one_shot(request, caller, fields)


def _one_shot(request: HttpRequest, caller: Caller, fields: dict[str, Any]) -> Result:
    data = _payload(request, fields)
    upload = request.FILES.get("media")
    mime = fields.get("media_type") or (upload.content_type if upload is not None else "")
    category = fields.get("media_category")
    if not isinstance(category, str) or not category:
        raise problems.invalid_request("`media_category` is required.", {"media_category": [str(category)]})
    media = mediastore.media_one_shot(
        owner=caller.user, data=data, mime=str(mime), category=category, shared=_shared(fields.get("shared"))
    )
    return _upload(media)


@csrf_exempt
def upload(request: HttpRequest) -> HttpResponse:
    """``/2/media/upload``: GET is STATUS, POST the legacy commands or a one-shot upload."""
    return (status if request.method == "GET" else upload_command)(request)


@endpoint("media_download", methods=("GET",), scopes=DOWNLOAD)
def download(request: HttpRequest, caller: Caller, rest: str) -> Result:
    """``/2/dm_conversations/media/<media_id>[/…]`` or X's ``/<dm_id>/<media_id>/<resource_id>``."""
    parts = [p for p in rest.split("/") if p]
    event_id, media_id = (parts[0], parts[1]) if len(parts) >= 3 else (None, parts[0] if parts else "")
    media = mediastore.readable(caller.user, media_id, event_id)
    return Result({}, content=bytes(media.data), content_type=media.media_type)


urlpatterns = [
    path("2/media/upload/initialize", initialize),
    path("2/media/upload/<str:media_id>/append", append),
    path("2/media/upload/<str:media_id>/finalize", finalize),
    path("2/media/upload", upload),
    re_path(r"^2/dm_conversations/media/(?P<rest>.+)$", download),
]
