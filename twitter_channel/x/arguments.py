"""``XClient``'s argument checks: X's rules on ids, text, media, group sizes and URLs, before any I/O.

Every check raises ``ValueError`` naming the argument, so a caller learns about a bad argument where it
passed it, not from X's 400. No Django in here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from twitter_channel.x.results import LOOKUP_FIELDS

ID = re.compile(r"^[0-9]{1,19}$")
CONVERSATION_ID = re.compile(r"^([0-9]{1,19}-[0-9]{1,19}|[0-9]{15,19})$")  # x-api.md §1 (OA DmConversationId)
USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")  # OA UserName
EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
MAX_GROUP = 49
MAX_USERS = 100
MAX_WEBHOOK_URL = 200
# OA 2.159 MediaUploadConfigRequest.
MEDIA_CATEGORIES = ("amplify_video", "tweet_gif", "tweet_image", "tweet_video", "dm_gif", "dm_image", "dm_video",
                    "subtitles")  # fmt: skip
MEDIA_TYPES = ("video/mp4", "video/webm", "video/mp2t", "video/quicktime", "text/srt", "text/vtt", "image/jpeg",
               "image/gif", "image/bmp", "image/png", "image/webp", "image/pjpeg", "image/tiff", "model/gltf-binary",
               "model/vnd.usdz+zip")  # fmt: skip
MAX_SEGMENT_BYTES = 5 * 1024 * 1024
MAX_SEGMENTS = 1000  # segment_index 0..999
# DM media lives on other hosts than the API (ton.twitter.com, video.twimg.com): the account's token may go there.
MEDIA_HOSTS = ("x.com", "twitter.com", "twimg.com")


def check_id(value: Any, name: str) -> None:
    if not isinstance(value, str) or not ID.match(value):
        raise ValueError(f"{name} must be a numeric X id string of 1 to 19 digits, not {value!r}")


def check_conversation(value: Any) -> None:
    if not isinstance(value, str) or not CONVERSATION_ID.match(value):
        raise ValueError(f"conversation_id must be '<id>-<id>' or a 15-19 digit group id, not {value!r}")


def check_username(value: Any) -> None:
    if not isinstance(value, str) or not USERNAME.match(value):
        raise ValueError(f"username must be 1 to 15 letters, digits or '_' (without '@'), not {value!r}")


def check_max_pages(value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"max_pages must be a positive integer or None, not {value!r}")


def check_webhook_url(url: Any) -> None:
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_WEBHOOK_URL or not url.startswith(("https://", "http://")):
        raise ValueError(f"the webhook URL must be an absolute URL of at most {MAX_WEBHOOK_URL} characters")


def may_download(url: Any, base_url: str) -> bool:
    """Whether the account's token may be sent to ``url``: X's API itself (``base_url``) or X's media hosts."""
    if not isinstance(url, str):
        return False
    parts, base = urlsplit(url), urlsplit(base_url)
    if parts.scheme in ("http", "https") and (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
        return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in MEDIA_HOSTS)


def id_list(values: Any, name: str, least: int, most: int) -> list[str]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a list of id strings, not {values!r}")
    ids = list(values)
    if not least <= len(ids) <= most:
        raise ValueError(f"{name} must hold {least} to {most} ids (got {len(ids)})")
    for value in ids:
        check_id(value, f"each of {name}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name} repeats an id: {ids!r}")
    return ids


def group_ids(participant_ids: Any) -> list[str]:
    return id_list(participant_ids, "participant_ids (the others in the group, without the sender)", 2, MAX_GROUP)


def message_body(text: Any, media_id: Any) -> dict[str, Any]:
    """X's CreateMessageRequest: text, one attachment, or both."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, not {type(text).__name__}")
    if not text and media_id is None:
        raise ValueError("a DM needs text or a media_id (or both)")
    body: dict[str, Any] = {"text": text} if text else {}
    if media_id is not None:
        check_id(media_id, "media_id")
        body["attachments"] = [{"media_id": media_id}]  # X takes exactly one attachment per message
    return body


def lookup_params(event_types: Any, max_results: Any, pagination_token: Any) -> dict[str, str]:
    """The query of a DM lookup: ``LOOKUP_FIELDS`` plus the checked paging and filter arguments."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= 100:
        raise ValueError(f"max_results must be an integer from 1 to 100, not {max_results!r}")
    params = {"max_results": str(max_results), **LOOKUP_FIELDS}
    if event_types is not None:
        types = [event_types] if isinstance(event_types, str) else list(event_types)
        unknown = [t for t in types if t not in EVENT_TYPES]
        if not types or unknown:
            raise ValueError(f"event_types must be some of {', '.join(EVENT_TYPES)}, not {types!r}")
        params["event_types"] = ",".join(dict.fromkeys(types))
    if pagination_token is not None:
        if not isinstance(pagination_token, str) or not pagination_token:
            raise ValueError(f"pagination_token must be a non-empty string, not {pagination_token!r}")
        params["pagination_token"] = pagination_token
    return params


def upload_bytes(data: Any, media_type: Any, media_category: Any, chunk_size: Any) -> bytes:
    """The bytes of a chunked media upload, once type, category and chunking are within X's limits."""
    if not isinstance(data, bytes | bytearray | memoryview) or not len(data):
        raise ValueError("media data must be non-empty bytes")
    if media_category not in MEDIA_CATEGORIES:
        raise ValueError(f"media_category must be one of {', '.join(MEDIA_CATEGORIES)}, not {media_category!r}")
    if media_type not in MEDIA_TYPES:
        raise ValueError(f"media_type must be one of {', '.join(MEDIA_TYPES)}, not {media_type!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1 <= chunk_size <= MAX_SEGMENT_BYTES:
        raise ValueError(f"chunk_size must be from 1 to {MAX_SEGMENT_BYTES} bytes, not {chunk_size!r}")
    if math.ceil(len(data) / chunk_size) > MAX_SEGMENTS:
        raise ValueError(f"{len(data)} bytes in chunks of {chunk_size} would need more than {MAX_SEGMENTS} segments")
    return bytes(data)
