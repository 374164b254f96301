"""Internal notes: what agents write to each other inside a conversation. Never sent to X."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from inbox import events as activity
from inbox import realtime
from inbox.models import Conversation, Note, Notification
from inbox.services import notifications

NOTE_MAX_LENGTH = 10_000


class NoteError(ValueError):
    pass


def note_create(*, conversation_id: int, author: User, body: str) -> Note:
    """Add an internal note to a conversation.

    Writes a ``note_added`` activity row and publishes ``note.created`` after commit; the agents it
    @mentions get a notification (``services.notifications``). Locks nothing: notes only append.
    """
    body = body.strip()
    if not body:
        raise NoteError("A note needs some text.")
    if len(body) > NOTE_MAX_LENGTH:
        raise NoteError(f"A note is at most {NOTE_MAX_LENGTH:,} characters; this one has {len(body):,}.")
    with transaction.atomic():
        conversation = Conversation.objects.get(pk=conversation_id)
        note = Note.objects.create(conversation=conversation, author=author, body=body)
        activity.note_added_event(conversation=conversation, actor=author, note_id=note.pk)
        notifications.notify(
            users=notifications.mentioned(conversation=conversation, body=body),
            kind=Notification.Kind.MENTION,
            conversation=conversation,
            actor=author,
            text=f"{author.display_name} mentioned you: {body}",
        )
        realtime.publish(
            groups=[realtime.inbox_group(conversation.inbox_id)],
            event="note.created",
            data={"note_id": note.pk, "conversation_id": conversation.pk, "inbox_id": conversation.inbox_id},
        )
    return note
