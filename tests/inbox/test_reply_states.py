"""A reply after it is stored: sent again after a failure (edited or not), claimed, sent, requeued, and X's
echo of it, before or after we recorded the send."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError
from django.utils import timezone

from inbox.models import Conversation, Message
from inbox.services.ingest import dm_event_ingest
from inbox.services.replies import (
    ReplyError,
    ReplyNotAllowed,
    reply_mark_failed,
    reply_mark_sending,
    reply_mark_sent,
    reply_requeue,
    reply_retry,
)
from tests.factories import dm, make_agent, make_inbox, next_event_id
from tests.inbox.reply_helpers import CUSTOMER, create, needs_postgresql, run_together, upload
from tests.twitter_channel.x.client_sandbox import png

pytestmark = pytest.mark.django_db


def failed_reply(conversation, agent, **kw: Any) -> Message:
    message = create(conversation, agent, **kw)
    reply_mark_sending(message_id=message.pk)
    return reply_mark_failed(
        message_id=message.pk, detail="X refused this reply: You cannot send messages to this user."
    )


def test_a_failed_reply_is_queued_again_and_enqueued(
    conversation, agent, published, enqueued, django_capture_on_commit_callbacks
):
    message = failed_reply(conversation, agent)
    enqueued.clear()
    colleague = make_agent()
    conversation.inbox.members.add(colleague)

    with django_capture_on_commit_callbacks(execute=True):
        retried = reply_retry(message_id=message.pk, actor=colleague)

    retried.refresh_from_db()
    assert (retried.delivery_state, retried.error_detail, retried.text) == ("queued", "", "It ships today.")
    assert retried.sender_agent == agent, "unchanged text stays the author's"
    assert enqueued == [message.pk]
    assert published.events() == ["message.updated"]
    assert published.of("message.updated")[0]["delivery_state"] == "queued"


def test_a_failed_reply_can_be_edited_before_it_is_sent_again(
    conversation, agent, published, enqueued, django_capture_on_commit_callbacks
):
    message = failed_reply(conversation, agent)

    with django_capture_on_commit_callbacks(execute=True):
        retried = reply_retry(message_id=message.pk, actor=agent, text="  It ships tomorrow, sorry!  ")

    assert retried.text == "It ships tomorrow, sorry!" and retried.delivery_state == "queued"
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "It ships tomorrow, sorry!"
    assert published.events() == ["conversation.updated", "message.updated"]


def test_an_edit_is_checked_like_a_new_reply(conversation, agent, enqueued):
    message = failed_reply(conversation, agent)
    enqueued.clear()

    with pytest.raises(ReplyError, match="10,001 characters"):
        reply_retry(message_id=message.pk, actor=agent, text="x" * 10_001)
    with pytest.raises(ReplyError, match="Write a reply"):
        reply_retry(message_id=message.pk, actor=agent, text=" ")

    message.refresh_from_db()
    assert (message.delivery_state, message.text) == ("failed", "It ships today.") and enqueued == []


def test_an_image_reply_may_lose_its_text_when_edited(conversation, agent, enqueued):
    message = failed_reply(conversation, agent, attachment=upload(png()))

    assert reply_retry(message_id=message.pk, actor=agent, text="").text == ""


@pytest.mark.parametrize("state", ["queued", "sending", "sent"])
def test_only_a_failed_reply_can_be_sent_again(conversation, agent, enqueued, state):
    message = create(conversation, agent)
    Message.objects.filter(pk=message.pk).update(delivery_state=state)
    enqueued.clear()

    with pytest.raises(ReplyError, match=f"this one is {state}"):
        reply_retry(message_id=message.pk, actor=agent)
    assert enqueued == []


def test_a_customers_message_cannot_be_sent(conversation, agent, enqueued):
    theirs = conversation.messages.get(direction="inbound")

    with pytest.raises(ReplyError, match="Only a reply written here"):
        reply_retry(message_id=theirs.pk, actor=agent)


def test_someone_outside_the_inbox_cannot_send_a_reply_again(conversation, agent, enqueued):
    message = failed_reply(conversation, agent)

    with pytest.raises(ReplyNotAllowed):
        reply_retry(message_id=message.pk, actor=make_agent())


# --- the send task's steps ------------------------------------------------------------------------------------


def test_a_reply_is_claimed_for_sending_once(
    conversation, agent, published, enqueued, django_capture_on_commit_callbacks
):
    message = create(conversation, agent)

    with django_capture_on_commit_callbacks(execute=True):
        claimed = reply_mark_sending(message_id=message.pk)
        again = reply_mark_sending(message_id=message.pk)

    assert claimed is not None and claimed.delivery_state == "sending" and again is None
    assert reply_mark_sending(message_id=message.pk + 1000) is None, "a reply deleted meanwhile is not sent"
    assert [m["delivery_state"] for m in published.of("message.updated")] == ["sending"]


def test_sent_stores_x_s_event_id_and_time(
    conversation, agent, published, enqueued, django_capture_on_commit_callbacks
):
    message = create(conversation, agent)
    reply_mark_sending(message_id=message.pk)
    event_id, sent_at = next_event_id(), timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        sent = reply_mark_sent(message_id=message.pk, x_event_id=event_id, sent_at=sent_at)

    sent.refresh_from_db()
    assert (sent.delivery_state, sent.x_event_id, sent.x_sequence) == ("sent", event_id, int(event_id))
    assert sent.occurred_at == sent_at and sent.x_confirmed_at is None
    conversation.refresh_from_db()
    assert conversation.last_message_at == sent_at
    assert published.of("message.updated")[-1]["delivery_state"] == "sent"


def test_a_sent_reply_is_not_failed_or_requeued_afterwards(conversation, agent, enqueued):
    message = create(conversation, agent)
    reply_mark_sending(message_id=message.pk)
    reply_mark_sent(message_id=message.pk, x_event_id=next_event_id(), sent_at=timezone.now())

    assert reply_mark_failed(message_id=message.pk, detail="late").delivery_state == "sent"
    assert reply_requeue(message_id=message.pk, detail="late").delivery_state == "sent"
    assert reply_mark_sending(message_id=message.pk) is None
    message.refresh_from_db()
    assert (message.delivery_state, message.error_detail) == ("sent", "")


def test_a_requeued_reply_says_why_and_is_claimed_again(conversation, agent, enqueued):
    message = create(conversation, agent)
    reply_mark_sending(message_id=message.pk)

    requeued = reply_requeue(message_id=message.pk, detail="X's rate limit is used up; the reply goes out at 12:15.")

    assert requeued.delivery_state == "queued" and "goes out at 12:15" in requeued.error_detail
    assert reply_mark_sending(message_id=message.pk).error_detail == ""


# --- X's echo of a sent reply: one message whichever comes first -----------------------------------------------


def echo_of(conversation: Conversation, event_id: str, text: str = "It ships today."):
    return dm(conversation.inbox, CUSTOMER, text=text, from_business=True, event_id=event_id, at=timezone.now())


def test_an_echo_after_sent_confirms_the_reply(
    conversation, agent, published, enqueued, django_capture_on_commit_callbacks
):
    message = create(conversation, agent)
    reply_mark_sending(message_id=message.pk)
    event_id = next_event_id()
    reply_mark_sent(message_id=message.pk, x_event_id=event_id, sent_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        result = dm_event_ingest(inbox=conversation.inbox, event=echo_of(conversation, event_id))

    assert result.created is False and result.message.pk == message.pk
    assert list(Message.objects.filter(direction="outbound").values_list("pk", flat=True)) == [message.pk]
    message.refresh_from_db()
    assert message.x_confirmed_at is not None and message.delivery_state == "sent"
    assert published.of("message.updated")[-1]["confirmed_by_x"] is True


def test_an_echo_before_sent_is_folded_into_the_reply(
    conversation, agent, published, enqueued, django_capture_on_commit_callbacks, media_root
):
    # given a reply with an image, sent to X, whose echo (webhook or poll) is stored before we record the send
    message = create(conversation, agent, attachment=upload(png()))
    reply_mark_sending(message_id=message.pk)
    event_id = next_event_id()
    echo = dm_event_ingest(inbox=conversation.inbox, event=echo_of(conversation, event_id)).message
    assert echo.pk != message.pk and Message.objects.filter(direction="outbound").count() == 2
    published.clear()

    # when the send is recorded
    with django_capture_on_commit_callbacks(execute=True):
        sent = reply_mark_sent(message_id=message.pk, x_event_id=event_id, sent_at=timezone.now())

    # then one message is left: the reply, with its author and file, confirmed and at X's time
    assert list(Message.objects.filter(direction="outbound").values_list("pk", flat=True)) == [message.pk]
    sent.refresh_from_db()
    assert (sent.x_event_id, sent.delivery_state, sent.sender_agent) == (event_id, "sent", agent)
    assert sent.x_confirmed_at is not None and sent.occurred_at == echo.occurred_at == sent.x_created_at
    assert sent.attachments.get().file
    assert published.of("message.deleted") == [
        {"message_id": echo.pk, "conversation_id": conversation.pk, "inbox_id": conversation.inbox_id,
         "replaced_by": message.pk}
    ]  # fmt: skip
    assert published.of("message.updated")[-1]["message_id"] == message.pk

    # and a later echo (a replay) changes nothing
    again = dm_event_ingest(inbox=conversation.inbox, event=echo_of(conversation, event_id))
    assert again.created is False and again.message.pk == message.pk


@pytest.mark.django_db(transaction=True)
def test_an_echo_arriving_while_the_send_is_recorded_leaves_one_message(agent, published, enqueued):
    needs_postgresql()
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER)).message.conversation

    for n in range(5):
        message = create(conversation, agent, token=f"race-{n}")
        reply_mark_sending(message_id=message.pk)
        event_id = next_event_id()
        echo = echo_of(conversation, event_id)

        results = run_together(
            lambda: reply_mark_sent(message_id=message.pk, x_event_id=event_id, sent_at=timezone.now()),  # noqa: B023
            lambda: dm_event_ingest(inbox=inbox, event=echo),  # noqa: B023
        )

        assert not any(isinstance(r, BaseException) for r in results), results
        rows = list(Message.objects.filter(x_event_id=event_id).values_list("pk", "delivery_state", "sender_agent"))
        assert rows == [(message.pk, "sent", agent.pk)]
        assert Message.objects.get(pk=message.pk).x_confirmed_at is not None


def test_an_x_event_recorded_for_one_reply_is_never_folded_into_another_reply(conversation, agent):
    # given a reply sent as X event E
    first = create(conversation, agent, text="Same words")
    reply_mark_sending(message_id=first.pk)
    event_id = next_event_id()
    reply_mark_sent(message_id=first.pk, x_event_id=event_id, sent_at=timezone.now())
    # and another reply, which something (wrongly) says is E too
    second = create(conversation, agent, text="Same words", token="tok-2")
    reply_mark_sending(message_id=second.pk)

    # then recording it fails loudly, and the first reply is kept as it was (it was once deleted as an "echo")
    with pytest.raises(IntegrityError):
        reply_mark_sent(message_id=second.pk, x_event_id=event_id, sent_at=timezone.now())
    first.refresh_from_db()
    assert (first.x_event_id, first.delivery_state) == (event_id, "sent")
