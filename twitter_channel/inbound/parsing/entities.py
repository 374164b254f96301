"""DM entities (links, hashtags, mentions, cashtags) in one shape, whichever API they came from.

The normalized form, stored on the message for display::

    {"urls": [{"start", "end", "url", "expanded_url", "display_url", "media"}],
     "hashtags": [{"start", "end", "tag"}], "mentions": [{"start", "end", "username", "id"}],
     "cashtags": [{"start", "end", "tag"}]}

``start``/``end`` index ``text`` by code point, end exclusive (v1 ``indices`` are the same pair).
A value X did not send is ``None``. ``media`` is True for the t.co link X appends to the text of a
DM with an attachment (its ``expanded_url`` is ``https://twitter.com/messages/media/<event id>``), so
the UI can hide it and show the attachment instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from twitter_channel.x.json_fields import (
    PayloadError,
    as_int,
    as_list,
    as_object,
    at,
    opt_id,
    opt_list,
    opt_str,
    req_str,
    required,
)

Entity = dict[str, Any]
Entities = dict[str, list[Entity]]

_MEDIA_PAGE = re.compile(r"https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/messages/media/[0-9]+")
_TRAILING_TCO = re.compile(r"https?://t\.co/[A-Za-z0-9]+(?=\s*\Z)")


def empty() -> Entities:
    return {"urls": [], "hashtags": [], "mentions": [], "cashtags": []}


def from_v1(raw: object, path: str) -> Entities:
    """v1 ``message_data.entities``: ``hashtags``, ``symbols``, ``user_mentions``, ``urls`` with ``indices``."""
    entities = empty()
    if raw is None:
        return entities
    obj = as_object(raw, path)
    for i, item in enumerate(opt_list(obj, "urls", path)):
        item_path = at(at(path, "urls"), i)
        url = as_object(item, item_path)
        start, end = _indices(url, item_path)
        entities["urls"].append(_url(url, start, end, item_path))
    for i, item in enumerate(opt_list(obj, "hashtags", path)):
        item_path = at(at(path, "hashtags"), i)
        tag = as_object(item, item_path)
        start, end = _indices(tag, item_path)
        entities["hashtags"].append({"start": start, "end": end, "tag": req_str(tag, "text", item_path)})
    for i, item in enumerate(opt_list(obj, "symbols", path)):
        item_path = at(at(path, "symbols"), i)
        tag = as_object(item, item_path)
        start, end = _indices(tag, item_path)
        entities["cashtags"].append({"start": start, "end": end, "tag": req_str(tag, "text", item_path)})
    for i, item in enumerate(opt_list(obj, "user_mentions", path)):
        item_path = at(at(path, "user_mentions"), i)
        mention = as_object(item, item_path)
        start, end = _indices(mention, item_path)
        entities["mentions"].append(
            {
                "start": start,
                "end": end,
                "username": req_str(mention, "screen_name", item_path),
                "id": opt_id(mention, "id_str", item_path),
            }
        )
    return entities


def from_v2(event: Mapping[str, Any], path: str) -> Entities:
    """v2 entities: the ``entities`` object (OA7), else OA 2.159's flattened top-level lists."""
    if event.get("entities") is not None:
        source, source_path = as_object(event["entities"], at(path, "entities")), at(path, "entities")
    else:
        source, source_path = event, path
    entities = empty()
    for i, item in enumerate(opt_list(source, "urls", source_path)):
        item_path = at(at(source_path, "urls"), i)
        url = as_object(item, item_path)
        start, end = _start_end(url, item_path)
        entity = _url(url, start, end, item_path)
        if url.get("media_key") is not None:
            entity["media"] = True
        entities["urls"].append(entity)
    for family in ("hashtags", "cashtags"):
        for i, item in enumerate(opt_list(source, family, source_path)):
            item_path = at(at(source_path, family), i)
            tag = as_object(item, item_path)
            start, end = _start_end(tag, item_path)
            entities[family].append({"start": start, "end": end, "tag": req_str(tag, "tag", item_path)})
    for i, item in enumerate(opt_list(source, "mentions", source_path)):
        item_path = at(at(source_path, "mentions"), i)
        mention = as_object(item, item_path)
        start, end = _start_end(mention, item_path)
        entities["mentions"].append(
            {
                "start": start,
                "end": end,
                "username": req_str(mention, "username", item_path),
                "id": opt_id(mention, "id", item_path),
            }
        )
    return entities


def mark_media(entities: Entities, text: str, *, has_media: bool, media_urls: frozenset[str] = frozenset()) -> None:
    """Flag the attachment's t.co link; add it when X listed no url entity for it."""
    for url in entities["urls"]:
        if url["url"] in media_urls or _MEDIA_PAGE.fullmatch(url["expanded_url"] or ""):
            url["media"] = True
    if not has_media or any(url["media"] for url in entities["urls"]):
        return
    match = _TRAILING_TCO.search(text)
    if match is not None and not any(url["start"] == match.start() for url in entities["urls"]):
        entities["urls"].append(
            {
                "start": match.start(),
                "end": match.end(),
                "url": match.group(0),
                "expanded_url": None,
                "display_url": None,
                "media": True,
            }
        )


def _url(url: Mapping[str, Any], start: int, end: int, path: str) -> Entity:
    return {
        "start": start,
        "end": end,
        "url": req_str(url, "url", path),
        "expanded_url": opt_str(url, "expanded_url", path),
        "display_url": opt_str(url, "display_url", path),
        "media": False,
    }


def _indices(entity: Mapping[str, Any], path: str) -> tuple[int, int]:
    pair = as_list(required(entity, "indices", path), at(path, "indices"))
    if len(pair) != 2:
        raise PayloadError(at(path, "indices"), f"expected [start, end], got {len(pair)} items")
    return _range(as_int(pair[0], at(path, "indices[0]")), as_int(pair[1], at(path, "indices[1]")), path)


def _start_end(entity: Mapping[str, Any], path: str) -> tuple[int, int]:
    start = as_int(required(entity, "start", path), at(path, "start"))
    end = as_int(required(entity, "end", path), at(path, "end"))
    return _range(start, end, path)


def _range(start: int, end: int, path: str) -> tuple[int, int]:
    if not 0 <= start <= end:
        raise PayloadError(path, f"bad range {start}..{end}")
    return start, end
