"""Reads about agents' replies: the undo window, and until when a reply can still be taken back."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings

from inbox.models import Message

State = Message.DeliveryState


def undo_seconds() -> int:
    """How long a new reply waits, cancellable, before it is sent: ``X_REPLY_UNDO_SECONDS``.

    0 when tasks run inline (unit tests, ``CELERY_TASK_ALWAYS_EAGER``): nothing would come back to
    send the reply after the window, so it is sent at once and cannot be undone.
    """
    if current_app.conf.task_always_eager:
        return 0
    return max(0, int(settings.X_REPLY_UNDO_SECONDS))


def undo_deadline(message: Message) -> datetime | None:
    """Until when ``message`` can be undone (its ``send_after``), or None if it cannot (any more).

    Only a ``queued`` reply whose ``send_after`` is still the one ``reply_create`` gave it: a reply put
    back in the queue to wait for X (``send_after`` moved past its creation + the window) was already
    attempted and may have reached X. A read: the caller compares with now.
    """
    window = undo_seconds()
    if (
        not window
        or message.direction != Message.Direction.OUTBOUND
        or message.delivery_state != State.QUEUED
        or message.send_after is None
    ):
        return None
    if message.send_after > message.created_at + timedelta(seconds=window):
        return None
    return message.send_after
