"""What an X DM event becomes as rows: its message's and attachments' columns as stored, its people, and
the profile columns a contact takes from it. Pure functions (no queries) shared by ingest's one-by-one and
batch paths and by ``event_problem``'s checks; ``x_sequence_of`` also by the reply services."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from django.db.models import Field, Model
from django.utils import timezone

from inbox.dm_events import DmEvent, DmEventType, DmMedia, XUserProfile
from inbox.models import Contact, Conversation, Inbox, Message, MessageAttachment

_MAX_BIGINT = 2**63 - 1
_PROFILE_FIELDS = tuple(f.name for f in fields(XUserProfile))
_CONTACT_LENGTHS = {f.name: f.max_length for f in Contact._meta.concrete_fields if getattr(f, "max_length", None)}


def profile_columns(profile: XUserProfile) -> dict[str, Any]:
    return {
        name: value[: _CONTACT_LENGTHS[name]] if isinstance(value, str) and name in _CONTACT_LENGTHS else value
        for name in _PROFILE_FIELDS
        if (value := getattr(profile, name)) is not None
    }


def event_user_ids(inbox: Inbox, event: DmEvent) -> set[str]:
    ids = set(event.participant_ids)
    if event.sender_id:
        ids.add(event.sender_id)
    counterpart = event.one_to_one_counterpart(inbox.x_user_id)
    if counterpart:
        ids.add(counterpart)
    ids.discard(inbox.x_user_id)
    return ids


def message_direction(inbox: Inbox, event: DmEvent) -> str:
    if event.event_type != DmEventType.MESSAGE_CREATE:
        return Message.Direction.SYSTEM
    if event.sender_id == inbox.x_user_id:
        return Message.Direction.OUTBOUND
    return Message.Direction.INBOUND


def message_new(inbox: Inbox, conversation: Conversation, event: DmEvent, contacts: dict[str, Contact]) -> Message:
    return Message(
        conversation=conversation, sender_contact=contacts.get(event.sender_id or ""), **message_columns(inbox, event)
    )


def message_columns(inbox: Inbox, event: DmEvent) -> dict[str, Any]:
    """The message's own columns (all but the conversation and the sender), as stored."""
    direction = message_direction(inbox, event)
    outbound = direction == Message.Direction.OUTBOUND
    return {
        "x_event_id": event.x_event_id,
        "x_sequence": x_sequence_of(event.x_event_id),
        "event_type": event.event_type.value,
        "direction": direction,
        "text": event.text,
        "entities": dict(event.entities),
        "referenced_post_ids": list(event.referenced_post_ids),
        "participant_x_ids": list(event.participant_ids),
        "quick_reply_response": dict(event.quick_reply_response) if event.quick_reply_response else None,
        "x_created_at": event.created_at,
        "occurred_at": event.created_at,
        # A business message we did not send from here was delivered by X by definition.
        "delivery_state": Message.DeliveryState.SENT if outbound else "",
        "x_confirmed_at": timezone.now() if outbound else None,
        "source_app_name": _fitting(Message, "source_app_name", event.source_app_name or "") if outbound else "",
        "initiated_via_post_id": event.initiated_via_post_id or "",
        "welcome_message_id": event.welcome_message_id or "",
    }


def attachment_new(message: Message, media: DmMedia) -> MessageAttachment:
    return MessageAttachment(message=message, **attachment_columns(media))


def attachment_columns(media: DmMedia) -> dict[str, Any]:
    return {
        "media_type": media.media_type,
        "media_key": media.media_key,
        "url": media.url,
        "preview_url": media.preview_url,
        "size_bytes": media.size_bytes,
        "width": media.width,
        "height": media.height,
        "alt_text": _fitting(MessageAttachment, "alt_text", media.alt_text),
        "media_id": media.media_id or "",
        "download_url": media.download_url or "",
        "variants": [variant._asdict() for variant in media.variants],
        "duration_ms": media.duration_ms,
    }


def _fitting(model: type[Model], field_name: str, text: str) -> str:
    """Display text (an app's name, alt text) cut to its column: a longer one must not lose the DM."""
    field = model._meta.get_field(field_name)
    return text[: field.max_length if isinstance(field, Field) else None]


def x_sequence_of(x_event_id: str) -> int | None:
    """X's event id as a number for ordering (ids are time-ordered); None if it does not fit a bigint."""
    value = int(x_event_id)
    return value if value <= _MAX_BIGINT else None
