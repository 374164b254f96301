"""Account Activity API payloads (x-api.md §7.7): the v1.1-style JSON X POSTs to a webhook.

Every payload is built for one subscribed user (``for_user_id``). Only ``MessageCreate`` events
become ``direct_message_events``: AAA "does not yet support group conversations" and has no event
for participants joining or leaving (x-api.md §7.7, UNCONFIRMED today), so ``ParticipantsJoin`` /
``ParticipantsLeave`` are not delivered at all.

Group messages (a sandbox choice, X's real shape is unknown): ``target.recipient_id`` is the
subscribed user when someone else sent the message; for the echo of the subscribed user's own
message it is the first other active member (by join order), so every id resolves in ``users``.

Text is the DM's text as stored: unlike X, the sandbox adds no t.co link for an attachment.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from twitter_channel.sandbox import serialize
from twitter_channel.sandbox.models import App, Conversation, DmEvent, Media, XUser

DEFAULT_AVATAR = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6})(?![\w])")
Payload = dict[str, Any]


def ms_timestamp(value: datetime) -> str:
    return str(int(value.timestamp() * 1000))


def user(value: XUser) -> dict[str, Any]:
    """X's condensed v1 user (the ``users`` map); optional texts only when set, as recorded."""
    data: dict[str, Any] = {
        "id": value.x_id,
        "created_timestamp": ms_timestamp(value.created_at),
        "name": value.name,
        "screen_name": value.username,
    }
    if value.location:
        data["location"] = value.location
    if value.description:
        data["description"] = value.description
    data.update(
        protected=value.protected,
        verified=value.verified,
        followers_count=value.followers_count,
        friends_count=0,
        statuses_count=value.posts.count(),
        profile_image_url_https=value.profile_image_url or DEFAULT_AVATAR,
    )
    return data


def app(value: App) -> dict[str, str]:
    return {"id": value.app_id, "name": value.name, "url": value.url}


def entities(text: str) -> dict[str, list[dict[str, Any]]]:
    """v1 entities: every list present, ``indices`` in code points; mentions of real users only."""
    mentions = []
    for match in serialize.MENTION.finditer(text):
        mentioned = XUser.objects.filter(username__iexact=match.group(1)).first()
        if mentioned is not None:
            mentions.append({"screen_name": mentioned.username, "name": mentioned.name, "id": int(mentioned.x_id),
                             "id_str": mentioned.x_id, "indices": [match.start(), match.end()]})  # fmt: skip
    return {
        "hashtags": [_indexed(m, "text") for m in serialize.HASHTAG.finditer(text)],
        "symbols": [_indexed(m, "text") for m in CASHTAG.finditer(text)],
        "user_mentions": mentions,
        "urls": [
            {"url": m.group(0), "expanded_url": m.group(0), "display_url": re.sub(r"^https?://", "", m.group(0))[:30],
             "indices": [m.start(), m.end()]}
            for m in serialize.URL.finditer(text)
        ],
    }  # fmt: skip


def _indexed(match: re.Match[str], key: str) -> dict[str, Any]:
    return {key: match.group(1), "indices": [match.start(), match.end()]}


def attachment(media: Media, event_id: str, base_url: str) -> dict[str, Any]:
    """``{"type": "media", "media": {...}}`` as in the recorded v1 events (pingviini fixture)."""
    url = f"{base_url}/2/dm_conversations/media/{media.media_id}"
    data: dict[str, Any] = {
        "id": int(media.media_id),
        "id_str": media.media_id,
        "media_url": url,
        "media_url_https": url,
        "expanded_url": f"https://twitter.com/messages/media/{event_id}",
        "type": media.type_name,
    }
    if media.alt_text:
        data["ext_alt_text"] = media.alt_text
    if media.type_name != "photo":
        data["video_info"] = {"variants": [{"bitrate": 0, "content_type": media.media_type, "url": url}]}
    return {"type": "media", "media": data}


def recipient_for(event: DmEvent, for_user: XUser) -> XUser | None:
    if event.conversation.kind == Conversation.Kind.GROUP and event.sender_id != for_user.pk:
        return for_user
    others = event.conversation.memberships.filter(left_at__isnull=True).exclude(user_id=event.sender_id)
    first = others.select_related("user").order_by("pk").first()
    return first.user if first else None


def message_create(event: DmEvent, sender: XUser, recipient: XUser, base_url: str) -> dict[str, Any]:
    message_data: dict[str, Any] = {"text": event.text, "entities": entities(event.text)}
    if event.media is not None:
        message_data["attachment"] = attachment(event.media, event.event_id, base_url)
    if event.quick_reply:
        message_data["quick_reply"] = event.quick_reply
    if event.quick_reply_response:
        message_data["quick_reply_response"] = event.quick_reply_response
    create: dict[str, Any] = {"target": {"recipient_id": recipient.x_id}, "sender_id": sender.x_id}
    if event.source_app is not None:
        create["source_app_id"] = event.source_app.app_id
    create["message_data"] = message_data
    item: dict[str, Any] = {
        "type": "message_create",
        "id": event.event_id,
        "created_timestamp": ms_timestamp(event.created_at),
        "message_create": create,
    }
    if event.initiated_via:
        item["initiated_via"] = event.initiated_via
    return item


def message_payload(event: DmEvent, for_user: XUser, base_url: str) -> Payload | None:
    """The ``direct_message_events`` POST body for ``for_user``, or None if AAA has none for it."""
    if event.event_type != DmEvent.EventType.MESSAGE_CREATE:
        return None
    sender = event.sender
    if sender is None:
        return None
    recipient = recipient_for(event, for_user)
    if recipient is None:
        return None
    payload: Payload = {"for_user_id": for_user.x_id,
                        "direct_message_events": [message_create(event, sender, recipient, base_url)]}  # fmt: skip
    if event.source_app is not None:
        payload["apps"] = {event.source_app.app_id: app(event.source_app)}
    payload["users"] = {u.x_id: user(u) for u in (sender, recipient)}
    return payload


def _signal_payload(
    family: str, for_user: XUser, sender: XUser, recipient: XUser, at: datetime, **extra: str
) -> Payload:
    item = {"created_timestamp": ms_timestamp(at), "sender_id": sender.x_id,
            "target": {"recipient_id": recipient.x_id}, **extra}  # fmt: skip
    return {"for_user_id": for_user.x_id, family: [item], "users": {u.x_id: user(u) for u in (sender, recipient)}}


def typing_payload(*, for_user: XUser, sender: XUser, recipient: XUser, at: datetime) -> Payload:
    """``direct_message_indicate_typing_events``: ``sender`` is typing to ``recipient``."""
    return _signal_payload("direct_message_indicate_typing_events", for_user, sender, recipient, at)


def read_payload(*, for_user: XUser, sender: XUser, recipient: XUser, last_read_event_id: str, at: datetime) -> Payload:
    """``direct_message_mark_read_events``: ``sender`` read ``recipient``'s messages up to the event."""
    return _signal_payload(
        "direct_message_mark_read_events", for_user, sender, recipient, at, last_read_event_id=last_read_event_id
    )
