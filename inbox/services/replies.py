"""Agents' replies: stored here first, then sent to X by the X channel, every change of state pushed live.

A reply is a row before it is anything else: ``reply_create`` stores it ``queued`` and, after commit,
asks for ``twitter_channel.reply_send`` by name (the inbox does not import the X channel). That task
moves it with the ``reply_mark_*`` functions below: ``queued`` → ``sending`` → ``sent`` (with X's event
id) or ``failed`` (with the reason, for the agent), or back to ``queued`` to wait for X. A failed reply
can be sent again, edited or not, with ``reply_retry``.

A new reply waits ``X_REPLY_UNDO_SECONDS`` before it may be claimed (``send_after``), so its author can
take it back (``reply_undo.reply_cancel``); a claim stamps ``send_claimed_at``, which is how
``twitter_channel.outbound.reconcile`` finds attempts whose worker died (``reply_recovery``).

Once X's event id is stored, X's echo of the message (webhook or poll) confirms this row (ingest matches
it by that id). If the echo came first, it was stored as a message of its own; ``reply_mark_sent``
folds it into the reply, so the thread keeps one message either way.

Locks are taken conversation first, then message, as ingest takes them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import current_app
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.models import User
from inbox import realtime
from inbox.models import Conversation, Message, MessageAttachment
from inbox.reply_input import (
    MediaKind,
    ReplyError,
    ReplyNotAllowed,
    attachment_check,
    text_clean,
    token_check,
)
from inbox.selectors.access import inboxes_visible_to
from inbox.selectors.replies import undo_seconds
from inbox.services.event_rows import x_sequence_of
from inbox.services.summaries import conversation_summary_refresh

__all__ = [
    "ReplyError",
    "ReplyNotAllowed",
    "ReplyNotDue",
    "reply_create",
    "reply_mark_failed",
    "reply_mark_sending",
    "reply_mark_sent",
    "reply_requeue",
    "reply_retry",
]

log = logging.getLogger(__name__)

SEND_TASK = "twitter_channel.reply_send"
MAX_DETAIL_LENGTH = 2000
State = Message.DeliveryState


class ReplyNotDue(Exception):
    """The reply may not be claimed before ``send_after`` (its undo window, or a wait for X): try again then."""

    def __init__(self, message_id: int, send_after: datetime) -> None:
        super().__init__(f"reply {message_id} goes out no earlier than {send_after.isoformat()}")
        self.send_after = send_after


def reply_create(
    *,
    conversation_id: int,
    author: User,
    text: str,
    client_token: str,
    attachment: UploadedFile | None = None,
) -> Message:
    """Store ``author``'s reply in the conversation as an outbound message waiting to be sent (``queued``).

    ``client_token`` identifies one composed reply: a second call with the same token (double click,
    resubmitted form, two requests at once) returns the first call's message and stores and sends
    nothing. ``attachment``: one JPEG, PNG or WebP image (5 MB) or GIF (15 MB), judged by its content,
    kept as our copy on a ``MessageAttachment``. Anything else raises ``ReplyError`` with a message for
    the agent; an author who may not see the inbox gets ``ReplyNotAllowed``; an unknown conversation
    raises ``Conversation.DoesNotExist``. With an undo window (``undo_seconds``) the reply gets
    ``send_after`` = now + the window and the task is enqueued for then (``reply_undo.reply_cancel``
    takes it back meanwhile); without one, ``send_after`` stays empty and it is sent at once.

    Changes: a new ``Message`` (``queued``, ``sender_agent`` = author, ``occurred_at`` = now) and its
    attachment; the conversation's summary (last message time and preview, needs-reply, first response
    time) worked out again from its messages (``summaries``). Locks the conversation row. Publishes after
    commit ``conversation.updated`` (when the summary changed) and ``message.created``, then enqueues
    ``twitter_channel.reply_send``.
    """
    token = token_check(client_token)
    kind = attachment_check(attachment) if attachment is not None else None
    body = text_clean(text, has_attachment=kind is not None)
    try:
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
            _check_may_reply(author, conversation)
            # Under the conversation's lock: a twin request with this token waited here and now finds it.
            existing = Message.objects.filter(idempotency_key=token).first()
            if existing is not None:
                return _same_submission(existing, conversation_id=conversation_id, author=author)
            now = timezone.now()
            window = undo_seconds()
            send_after = now + timedelta(seconds=window) if window else None
            message = Message.objects.create(
                conversation=conversation,
                event_type=Message.EventType.MESSAGE_CREATE,
                direction=Message.Direction.OUTBOUND,
                sender_agent=author,
                text=body,
                occurred_at=now,
                delivery_state=State.QUEUED,
                send_after=send_after,
                idempotency_key=token,
            )
            if attachment is not None and kind is not None:
                _attachment_store(message, attachment, kind)
            changed = conversation_summary_refresh(conversation=conversation)
            if changed:
                realtime.publish_conversation(conversation, event="conversation.updated", changed=changed)
            realtime.publish_message(message)
            _send_enqueue(message.pk, eta=send_after)
            return message
    except IntegrityError:
        # The same token committed meanwhile without our lock (another conversation, or no row locks: SQLite).
        existing = Message.objects.filter(idempotency_key=token).first()
        if existing is None:
            raise
        return _same_submission(existing, conversation_id=conversation_id, author=author)


def reply_retry(*, message_id: int, actor: User, text: str | None = None) -> Message:
    """Send a ``failed`` reply again, with ``text`` instead of its own when given (checked as a new reply's).

    Changes: the message back to ``queued`` with ``error_detail`` cleared; with new text, the text and
    ``sender_agent`` (now ``actor``), and the conversation's preview if it is the latest message.
    Anything but a failed reply of ours raises ``ReplyError``. Locks the conversation row, then the
    message row. Publishes after commit ``message.updated`` (and ``conversation.updated`` when the
    preview changed), then enqueues ``twitter_channel.reply_send``.
    """
    with transaction.atomic():
        conversation = _conversation_locked(message_id)
        message = _message_locked(message_id)
        _check_may_reply(actor, conversation)
        if message.direction != Message.Direction.OUTBOUND or not message.idempotency_key:
            raise ReplyError("Only a reply written here can be sent again.")
        if message.delivery_state != State.FAILED:
            raise ReplyError(f"Only a reply that failed can be sent again; this one is {message.delivery_state}.")
        fields = ["delivery_state", "error_detail", "updated_at"]
        attachment = message.attachments.first()
        if text is not None:
            message.text = text_clean(text, has_attachment=attachment is not None)
            message.sender_agent = actor
            fields += ["text", "sender_agent"]
        message.delivery_state = State.QUEUED
        message.error_detail = ""
        message.save(update_fields=fields)
        if text is not None:
            changed = conversation_summary_refresh(conversation=conversation)
            if changed:
                realtime.publish_conversation(conversation, event="conversation.updated", changed=changed)
        realtime.publish_message(message, event="message.updated")
        _send_enqueue(message.pk)
        return message


# --- the send task's steps ---------------------------------------------------------------------------------


def reply_mark_sending(*, message_id: int) -> Message | None:
    """Claim a ``queued`` reply for one send attempt: ``sending``, ``send_claimed_at`` = now (the attempt's
    start, which the sweeper in ``twitter_channel.outbound.reconcile`` reads), ``error_detail`` cleared.

    Returns None, changing nothing, when the reply is not queued (already sent, failed, claimed by
    another run of the task, ``sending`` for an attempt whose worker died: the sweeper owns that one) or
    no longer exists (deleted, undone): the caller must not send it. Raises ``ReplyNotDue`` while
    ``send_after`` is in the future (the undo window): the caller tries again then, never drops it. Locks
    the message row. Publishes ``message.updated`` after commit.
    """
    with transaction.atomic():
        try:
            message = _message_locked(message_id)
        except Message.DoesNotExist:  # deleted with its conversation while the task waited
            return None
        if message.direction != Message.Direction.OUTBOUND or message.delivery_state != State.QUEUED:
            return None
        now = timezone.now()
        if message.send_after is not None and message.send_after > now:
            raise ReplyNotDue(message.pk, message.send_after)
        message.delivery_state = State.SENDING
        message.send_claimed_at = now
        message.error_detail = ""
        message.save(update_fields=["delivery_state", "send_claimed_at", "error_detail", "updated_at"])
        realtime.publish_message(message, event="message.updated")
        return message


def reply_mark_sent(*, message_id: int, x_event_id: str, sent_at: datetime) -> Message:
    """Record that X accepted the reply as event ``x_event_id`` at about ``sent_at``.

    Changes: ``sent``, X's event id and sequence, ``occurred_at`` (X's time: ``sent_at``, or the echo's
    own time); ``error_detail`` and ``send_claimed_at`` cleared. If X's echo of this event was already
    stored as a message of its own (webhook or poll faster than us), the reply takes over its X fields
    and confirmation and that row is deleted, so the thread has one message. Works the conversation's
    summary out again (``summaries``): the reply moved to X's time. A reply already ``sent`` is returned
    unchanged. Locks the conversation row, then the message row (ingest takes the conversation's lock
    too, so an echo is stored before or after, never beside). Publishes after commit ``message.deleted``
    for a folded echo (with ``replaced_by``), ``message.updated``, and ``conversation.updated`` when the
    summary changed.
    """
    with transaction.atomic():
        conversation = _conversation_locked(message_id)
        message = _message_locked(message_id)
        if message.delivery_state == State.SENT:
            if message.x_event_id != x_event_id:
                log.warning("Reply %s is sent as %s; ignoring %s", message.pk, message.x_event_id, x_event_id)
            return message
        message.delivery_state = State.SENT
        message.error_detail = ""
        message.send_claimed_at = None
        message.x_event_id = x_event_id
        message.x_sequence = x_sequence_of(x_event_id)
        message.occurred_at = sent_at
        fields = ["delivery_state", "error_detail", "send_claimed_at", "x_event_id", "x_sequence", "occurred_at",
                  "updated_at"]  # fmt: skip
        # Only a row X's echo made (no token) is folded in. Another reply written here never is: recording one X
        # event for two replies would then fail on the event's uniqueness, loudly, instead of deleting a reply.
        echo = (
            Message.objects.filter(conversation=conversation, x_event_id=x_event_id, idempotency_key__isnull=True)
            .exclude(pk=message.pk)
            .first()
        )
        if echo is not None:
            fields += _echo_absorb(message, echo, conversation)
        message.save(update_fields=fields)
        changed = conversation_summary_refresh(conversation=conversation)
        if changed:
            realtime.publish_conversation(conversation, event="conversation.updated", changed=changed)
        realtime.publish_message(message, event="message.updated")
        return message


def reply_requeue(*, message_id: int, detail: str, send_after: datetime | None = None) -> Message:
    """Put a reply back in the queue to wait for X (rate limit, X not answering); ``detail`` says until when.

    Changes ``queued`` and ``error_detail`` of a ``sending`` (or ``queued``) reply, clears
    ``send_claimed_at``, and sets ``send_after`` when given: the time the retry is due, so the sweeper
    (``twitter_channel.outbound.reconcile``) does not mistake a reply waiting for X for one whose task was lost.
    Any other reply is returned unchanged. Locks the message row. Publishes ``message.updated`` after commit.
    """
    return _state_set(message_id, State.QUEUED, detail, allowed=(State.SENDING, State.QUEUED), send_after=send_after)


def reply_mark_failed(*, message_id: int, detail: str) -> Message:
    """Give up on a reply: ``failed``, with ``detail`` (X's reason, for the agent) in ``error_detail``.

    A reply already ``sent`` is returned unchanged (X has it; nothing can un-send it). Clears
    ``send_claimed_at``. Locks the message row. Publishes ``message.updated`` after commit.
    """
    return _state_set(message_id, State.FAILED, detail, allowed=(State.QUEUED, State.SENDING, State.FAILED))


# --- helpers ------------------------------------------------------------------------------------------------


def _check_may_reply(user: User, conversation: Conversation) -> None:
    if not inboxes_visible_to(user).filter(pk=conversation.inbox_id).exists():
        raise ReplyNotAllowed("You cannot reply in this conversation: its inbox is not one of yours.")


def _same_submission(existing: Message, *, conversation_id: int, author: User) -> Message:
    if existing.conversation_id != conversation_id or existing.sender_agent_id != author.pk:
        raise ReplyError("This reply form was already used for another message; reload the page and write it again.")
    return existing


def _conversation_locked(message_id: int) -> Conversation:
    conversation_id = Message.objects.values_list("conversation_id", flat=True).get(pk=message_id)
    return Conversation.objects.select_for_update().get(pk=conversation_id)


def _message_locked(message_id: int) -> Message:
    # of=("self",): lock the message only; the conversation's lock is taken (or not) on its own, in order.
    return Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=message_id)


def _state_set(
    message_id: int, state: str, detail: str, *, allowed: tuple[str, ...], send_after: datetime | None = None
) -> Message:
    with transaction.atomic():
        message = _message_locked(message_id)
        if message.direction != Message.Direction.OUTBOUND or message.delivery_state not in allowed:
            return message
        message.delivery_state = state
        message.error_detail = detail[:MAX_DETAIL_LENGTH]
        message.send_claimed_at = None  # no attempt is under way any more
        fields = ["delivery_state", "error_detail", "send_claimed_at", "updated_at"]
        if send_after is not None:
            message.send_after = send_after
            fields.append("send_after")
        message.save(update_fields=fields)
        realtime.publish_message(message, event="message.updated")
        return message


def _attachment_store(message: Message, upload: UploadedFile, kind: MediaKind) -> MessageAttachment:
    stored = MessageAttachment(
        message=message,
        media_type=kind.media_type,
        content_type=kind.content_type,
        size_bytes=upload.size,
        stored_at=timezone.now(),
    )
    upload.seek(0)
    # Our own name and the extension of what the file is: the agent's file name is not trusted.
    stored.file.save(get_valid_filename(f"reply-{message.pk}{kind.extension}"), upload, save=False)
    stored.save()
    return stored


_ECHO_FIELDS = ("x_created_at", "entities", "referenced_post_ids", "source_app_name")
_ECHO_MEDIA_FIELDS = ("media_key", "url", "preview_url", "width", "height", "alt_text", "media_id", "download_url",
                      "variants", "duration_ms")  # fmt: skip


def _echo_absorb(message: Message, echo: Message, conversation: Conversation) -> list[str]:
    """Fold X's echo of ``message``, stored as a row of its own, into ``message``; delete the echo's row.

    The reply keeps its author, token and our copy of the file, and takes X's time, fields and
    confirmation. Returns the reply's fields changed (the caller saves them).
    """
    for name in _ECHO_FIELDS:
        setattr(message, name, getattr(echo, name))
    message.occurred_at = echo.occurred_at
    message.x_confirmed_at = echo.x_confirmed_at or timezone.now()
    ours, theirs = message.attachments.first(), echo.attachments.first()
    if ours is not None and theirs is not None:
        for name in _ECHO_MEDIA_FIELDS:
            setattr(ours, name, getattr(theirs, name))
        ours.save(update_fields=list(_ECHO_MEDIA_FIELDS))
    echo_id = echo.pk
    echo.delete()  # first: the reply takes its (conversation, x_event_id)
    realtime.publish(
        groups=[realtime.inbox_group(conversation.inbox_id)],
        event="message.deleted",
        data={
            "message_id": echo_id,
            "conversation_id": conversation.pk,
            "inbox_id": conversation.inbox_id,
            "replaced_by": message.pk,
        },
    )
    log.info("Reply %s took over X's echo %s (event %s)", message.pk, echo_id, message.x_event_id)
    return [*_ECHO_FIELDS, "occurred_at", "x_confirmed_at"]


def _send_enqueue(message_id: int, *, eta: datetime | None = None) -> None:
    """After commit, ask the X channel to send the reply (at ``eta``, the end of its undo window, if given):
    by task name, so the inbox imports nothing of it. A lost enqueue is picked up by the sweeper."""

    # A named function: Django's log line for a failed robust callback reads __qualname__.
    def enqueue_reply_send() -> None:
        if eta is None:
            current_app.tasks[SEND_TASK].delay(message_id)
        else:
            current_app.tasks[SEND_TASK].apply_async(args=(message_id,), eta=eta)

    # robust: the reply is committed either way; a broker hiccup leaves it queued rather than failing the request.
    transaction.on_commit(enqueue_reply_send, robust=True)
