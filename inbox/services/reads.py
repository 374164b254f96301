"""What each agent has read, for the unread marker in their conversation list."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import User
from inbox.models import ConversationRead


def conversation_mark_read(*, conversation_id: int, user: User) -> None:
    """Record that ``user`` has read the conversation up to now (one upsert, no lock, nothing published)."""
    ConversationRead.objects.update_or_create(
        conversation_id=conversation_id, user=user, defaults={"read_at": timezone.now()}
    )
