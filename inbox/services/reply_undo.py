"""Undo: a reply can be taken back for ``X_REPLY_UNDO_SECONDS`` after it was written, before it leaves.

``replies.reply_create`` gives a new reply ``send_after`` = its creation + the window, and the send task
may not claim it before then (``replies.reply_mark_sending``). So until ``send_after`` the reply is a row
only, and cancelling it deletes the row: nothing reaches X. Once claimed, or once the window is over, it
is on its way, and ``reply_cancel`` says it is too late. Both decisions are taken under the message's
row lock, so a cancel and a claim at the same moment cannot both win.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from inbox import realtime
from inbox.models import Conversation, Message
from inbox.reply_input import ReplyError, ReplyNotAllowed
from inbox.selectors.replies import undo_deadline
from inbox.services.replies import _check_may_reply, _conversation_locked, _message_locked
from inbox.services.summaries import conversation_summary_refresh

log = logging.getLogger(__name__)

TOO_LATE = "Too late to undo: it is already on its way to X."
State = Message.DeliveryState


def reply_cancel(*, message_id: int, actor: User) -> Conversation:
    """Take back a reply within its undo window: the message (and its attachment's file) is deleted.

    Allowed to the reply's author, a team lead or an admin who can see the inbox (otherwise
    ``ReplyNotAllowed``); only while the reply is ``queued`` and before its ``send_after``
    (``undo_deadline``), otherwise ``ReplyError`` (``TOO_LATE`` once it is claimed or the window is
    over). An unknown message raises ``Message.DoesNotExist``. Changes: the message deleted; the
    conversation's summary (last message time and preview, needs-reply, first response time) worked
    out again from the messages left. Locks the conversation row, then the message row (the claim takes
    the message's). Publishes after commit ``message.deleted`` (``replaced_by`` None) and
    ``conversation.updated`` when the summary changed; the file is removed from storage after commit.
    Returns the conversation.
    """
    with transaction.atomic():
        conversation = _conversation_locked(message_id)
        message = _message_locked(message_id)
        _check_may_reply(actor, conversation)
        if message.direction != Message.Direction.OUTBOUND or not message.idempotency_key:
            raise ReplyError("Only a reply written here can be undone.")
        if message.sender_agent_id != actor.pk and not (actor.is_admin or actor.role == User.Role.LEAD):
            raise ReplyNotAllowed("Only the reply's author, a team lead or an admin can undo it.")
        if message.delivery_state == State.FAILED:
            raise ReplyError("This reply failed and was not sent; there is nothing to undo.")
        deadline = undo_deadline(message)
        if deadline is None or timezone.now() >= deadline:
            raise ReplyError(TOO_LATE)
        files = [(a.file.storage, a.file.name) for a in message.attachments.all() if a.file]
        message.delete()
        changed = conversation_summary_refresh(conversation=conversation)
        realtime.publish(
            groups=[realtime.inbox_group(conversation.inbox_id)],
            event="message.deleted",
            data={
                "message_id": message_id,
                "conversation_id": conversation.pk,
                "inbox_id": conversation.inbox_id,
                "replaced_by": None,
            },
        )
        if changed:
            realtime.publish_conversation(conversation, event="conversation.updated", changed=changed)

        def delete_reply_files() -> None:
            for storage, name in files:
                storage.delete(name)

        transaction.on_commit(delete_reply_files, robust=True)
    log.info("Reply %s undone by %s", message_id, actor.pk)
    return conversation
