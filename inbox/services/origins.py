"""Where a conversation came from: the public post whose "Send a private message" link started it."""

from __future__ import annotations

from django.db import transaction

from inbox import events as activity
from inbox import realtime
from inbox.models import Conversation


def conversation_origin_record(*, conversation_id: int, message_id: int, post_id: str, summary: str) -> Conversation:
    """Record that the DM ``message_id`` came through a link answering public post ``post_id`` (may be
    empty when the link named no post). The header shows the newest origin; each one is a
    ``started_from`` line in the activity log. Locks the conversation row; publishes
    ``conversation.updated`` after commit."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        conversation.origin_post_id = post_id[:20]
        conversation.origin_summary = summary[:200]
        conversation.save(update_fields=["origin_post_id", "origin_summary", "updated_at"])
        activity.started_from_event(conversation=conversation, post_id=post_id, summary=summary, message_id=message_id)
        realtime.publish_conversation(conversation, event="conversation.updated", changed=["origin"])
        return conversation
