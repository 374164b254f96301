"""X's v2 JSON for the sandbox's objects: fields on request, expansions into ``includes``."""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from twitter_channel.sandbox import problems
from twitter_channel.sandbox.models import DmEvent, Media, Post, XUser

DM_EVENT_FIELDS = (
    "attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id",
    "participant_ids", "referenced_tweets", "sender_id", "text",
)  # fmt: skip
EXPANSIONS = ("attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id")
EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
# user.fields and tweet.fields: every value of OA 2.159 (UserFieldsParameter, TweetFieldsParameter). X answers
# with what it has for an object and leaves the rest out, and so does the sandbox for what it does not model.
USER_FIELDS = (
    "affiliation", "confirmed_email", "connection_status", "created_at", "description", "entities", "id",
    "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody", "pinned_tweet_id",
    "profile_banner_url", "profile_image_url", "protected", "public_metrics", "receives_your_dm", "subscription",
    "subscription_type", "url", "username", "verified", "verified_followers_count", "verified_type", "withheld",
)  # fmt: skip
USER_EXPANSIONS = ("affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id")  # OA UserExpansionsParameter
MEDIA_FIELDS = (
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
    "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
)  # fmt: skip
TWEET_FIELDS = (
    "article", "attachments", "author_id", "card_uri", "community_id", "context_annotations", "conversation_id",
    "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes",
    "source", "suggested_source_links", "suggested_source_links_with_counts", "text", "withheld",
)  # fmt: skip
URL = re.compile(r"https?://\S+")
# X's hashtags need a letter: "#late" and "#a1" are hashtags, "#1234" (an order number) is not.
HASHTAG = re.compile(r"(?<!\w)#(\w*[^\W\d_]\w*)")
MENTION = re.compile(r"(?<!\w)@(\w{1,15})")


def timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def page_token(seq: int, forward: bool) -> str:
    """An opaque base32hex token (X's look: ``18LAA5G1SL0NR5OG0G00ZZZZ``)."""
    raw = struct.pack(">Q?", seq, forward) + b"\x00"
    return base64.b32hexencode(raw).decode().rstrip("=") + "ZZZZ"


def parse_page_token(token: str) -> tuple[int, bool]:
    try:
        if len(token) < 16 or not token.endswith("ZZZZ"):
            raise ValueError
        raw = base64.b32hexdecode(token[:-4] + "=" * (-len(token[:-4]) % 8))
        seq, forward = struct.unpack(">Q?", raw[:9])
        return seq, forward
    except (ValueError, struct.error) as exc:
        raise problems.invalid_request(
            f"The `pagination_token` query parameter value [{token}] is not valid", {"pagination_token": [token]}
        ) from exc


def entities(text: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for match in URL.finditer(text):
        url = match.group(0)
        found.setdefault("urls", []).append(
            {"start": match.start(), "end": match.end(), "url": url, "expanded_url": url,
             "display_url": re.sub(r"^https?://", "", url)[:30]}
        )  # fmt: skip
    for match in HASHTAG.finditer(text):
        found.setdefault("hashtags", []).append({"start": match.start(), "end": match.end(), "tag": match.group(1)})
    for match in MENTION.finditer(text):
        found.setdefault("mentions", []).append(
            {"start": match.start(), "end": match.end(), "username": match.group(1)}
        )
    return found


def dm_event(event: DmEvent, fields: Iterable[str]) -> dict[str, Any]:
    """An event with X's defaults (``id, event_type, text`` / ``participant_ids``) plus ``fields``."""
    fields = set(fields)
    message = event.event_type == DmEvent.EventType.MESSAGE_CREATE
    data: dict[str, Any] = {"id": event.event_id, "event_type": event.event_type}
    if message:
        data["text"] = event.text
    else:
        data["participant_ids"] = list(event.participant_ids)
    if "created_at" in fields:
        data["created_at"] = timestamp(event.created_at)
    if "dm_conversation_id" in fields:
        data["dm_conversation_id"] = event.conversation.conversation_id
    if "sender_id" in fields and event.event_type != DmEvent.EventType.PARTICIPANTS_LEAVE and event.sender is not None:
        data["sender_id"] = event.sender.x_id
    if message and "attachments" in fields and event.media is not None:
        data["attachments"] = {"media_keys": [event.media.media_key]}
    if message and "referenced_tweets" in fields and event.referenced_tweet_ids:
        data["referenced_tweets"] = [{"id": post_id} for post_id in event.referenced_tweet_ids]
    if message and "entities" in fields:
        found = entities(event.text)
        if found:
            data["entities"] = found
    return data


def user(value: XUser, fields: Iterable[str], viewer: XUser | None = None) -> dict[str, Any]:
    fields = set(fields)
    data: dict[str, Any] = {"id": value.x_id, "name": value.name, "username": value.username}
    optional = {
        "created_at": lambda: timestamp(value.created_at),
        "description": lambda: value.description,
        "location": lambda: value.location or None,
        "profile_image_url": lambda: value.profile_image_url or None,
        "protected": lambda: value.protected,
        "verified": lambda: value.verified,
        "public_metrics": lambda: {
            "followers_count": value.followers_count,
            "following_count": 0,
            "tweet_count": value.posts.count(),
            "listed_count": 0,
            "like_count": 0,
        },  # fmt: skip
        "receives_your_dm": lambda: value.accepts_dms,
        "verified_type": lambda: ("business" if value.is_business else "blue") if value.verified else "none",
        "most_recent_tweet_id": lambda: (
            value.posts.order_by("-created_at", "-pk").values_list("post_id", flat=True).first()
        ),
    }
    for name, get in optional.items():
        if name in fields:
            result = get()
            if result is not None:
                data[name] = result
    return data


def media(value: Media, fields: Iterable[str], base_url: str) -> dict[str, Any]:
    fields = set(fields)
    data: dict[str, Any] = {"media_key": value.media_key, "type": value.type_name}
    url = f"{base_url}/2/dm_conversations/media/{value.media_id}"
    if "url" in fields and value.type_name == "photo":
        data["url"] = url
    if "preview_image_url" in fields and value.type_name != "photo":
        data["preview_image_url"] = url
    if "alt_text" in fields and value.alt_text:
        data["alt_text"] = value.alt_text
    if "variants" in fields and value.type_name != "photo":
        data["variants"] = [{"content_type": value.media_type, "url": url}]
    return data


def post(value: Post, fields: Iterable[str]) -> dict[str, Any]:
    fields = set(fields)
    # X's defaults: posts cannot be edited here, so each one's edit history is itself (as recorded).
    data: dict[str, Any] = {"id": value.post_id, "text": value.text, "edit_history_tweet_ids": [value.post_id]}
    if "author_id" in fields:
        data["author_id"] = value.author.x_id
    if "created_at" in fields:
        data["created_at"] = timestamp(value.created_at)
    if "conversation_id" in fields:
        data["conversation_id"] = value.post_id  # no replies here: every post starts its own conversation
    if "entities" in fields:
        found = entities(value.text)
        if found:
            data["entities"] = found
    return data


def includes(
    events: list[DmEvent], expansions: list[str], params: dict[str, str], viewer: XUser, base_url: str
) -> dict[str, list[dict[str, Any]]]:
    user_fields = [f for f in params.get("user.fields", "").split(",") if f]
    media_fields = [f for f in params.get("media.fields", "").split(",") if f]
    tweet_fields = [f for f in params.get("tweet.fields", "").split(",") if f]
    users: dict[str, XUser] = {}
    media_items: dict[str, Media] = {}
    post_ids: list[str] = []
    for event in events:
        sender_shown = event.event_type != DmEvent.EventType.PARTICIPANTS_LEAVE
        if "sender_id" in expansions and sender_shown and event.sender is not None:
            users.setdefault(event.sender.x_id, event.sender)
        if "participant_ids" in expansions and event.participant_ids:
            for participant in XUser.objects.filter(x_id__in=event.participant_ids):
                users.setdefault(participant.x_id, participant)
        if "attachments.media_keys" in expansions and event.media is not None:
            media_items.setdefault(event.media.media_key, event.media)
        if "referenced_tweets.id" in expansions:
            post_ids.extend(p for p in event.referenced_tweet_ids if p not in post_ids)
    found: dict[str, list[dict[str, Any]]] = {}
    if users:
        found["users"] = [user(u, user_fields, viewer) for u in users.values()]
    if media_items:
        found["media"] = [media(m, media_fields, base_url) for m in media_items.values()]
    posts = list(Post.objects.select_related("author").filter(post_id__in=post_ids))
    if posts:
        found["tweets"] = [post(p, tweet_fields) for p in posts]
    return found
