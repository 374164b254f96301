"""Agents' replies as rows: checked, stored once per composed reply, moved through their states, published.

Sending them to X is tested against the sandbox in tests/twitter_channel/outbound/test_sending.py; here the send
task's enqueue is only recorded.
"""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Message, MessageAttachment
from inbox.services.ingest import dm_event_ingest
from inbox.services.replies import (
    ReplyError,
    ReplyNotAllowed,
)
from tests.factories import dm, make_agent, make_inbox
from tests.inbox.reply_helpers import CUSTOMER, MB, create, needs_postgresql, padded, run_together, upload, webp
from tests.twitter_channel.x.client_sandbox import GIF, png

pytestmark = pytest.mark.django_db


# --- storing a reply ----------------------------------------------------------------------------------------


def test_a_reply_is_stored_queued_then_published_and_enqueued_after_commit(
    conversation, agent, published, enqueued, django_capture_on_commit_callbacks
):
    # given a conversation waiting for a reply
    assert conversation.needs_reply and conversation.first_response_at is None

    # when the agent replies
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = create(conversation, agent, text="  It ships today.\n")
        assert published.sent == [] and enqueued == [], "nothing leaves before the commit"
    for callback in callbacks:
        callback()

    # then the reply is a queued outbound message of the agent, and the conversation says so
    message.refresh_from_db()
    assert (message.direction, message.delivery_state, message.sender_agent) == ("outbound", "queued", agent)
    assert (message.text, message.idempotency_key, message.x_event_id) == ("It ships today.", "tok-1", None)
    assert timezone.now() - message.occurred_at < timedelta(seconds=10)
    conversation.refresh_from_db()
    assert conversation.last_message_at == message.occurred_at
    assert conversation.last_message_preview == "It ships today."
    assert conversation.needs_reply is False
    assert conversation.first_response_at == message.occurred_at
    assert published.events() == ["conversation.updated", "message.created"]
    created = published.of("message.created")[0]
    assert (created["message_id"], created["delivery_state"], created["direction"]) == (
        message.pk,
        "queued",
        "outbound",
    )
    assert {"first_response_at", "last_message_at", "needs_reply"} <= set(
        published.of("conversation.updated")[0]["changed"]
    )
    assert enqueued == [message.pk]


def test_a_second_reply_keeps_the_first_response_time(conversation, agent, enqueued):
    first = create(conversation, agent, token="tok-1")
    second = create(conversation, agent, text="Tracking: 123", token="tok-2")

    conversation.refresh_from_db()
    assert conversation.first_response_at == first.occurred_at
    assert conversation.last_message_at == second.occurred_at
    assert conversation.last_message_preview == "Tracking: 123"


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00"])
def test_a_reply_with_nothing_to_send_is_refused(conversation, agent, enqueued, text):
    with pytest.raises(ReplyError, match="Write a reply or attach an image"):
        create(conversation, agent, text=text)
    assert not Message.objects.filter(direction="outbound").exists() and enqueued == []


def test_text_is_limited_to_x_s_ten_thousand_characters(conversation, agent, enqueued, published):
    longest = "é" * 10_000  # characters, not bytes
    assert create(conversation, agent, text=longest, token="ok").text == longest

    with pytest.raises(ReplyError) as refused:
        create(conversation, agent, text="x" * 10_001, token="too-long")
    assert str(refused.value) == (
        "The reply is 10,001 characters long; X allows at most 10,000 in a direct message. Shorten it by 1 character."
    )
    assert Message.objects.filter(direction="outbound").count() == 1


def test_an_image_alone_is_a_reply_with_our_copy_of_the_file(conversation, agent, enqueued, media_root):
    data = png()

    message = create(conversation, agent, text="", attachment=upload(data, name="../../etc/passwd.png"))

    attachment = MessageAttachment.objects.get(message=message)
    assert (attachment.media_type, attachment.content_type, attachment.size_bytes) == ("photo", "image/png", len(data))
    assert attachment.stored_at is not None
    assert attachment.file.name.startswith("dm-media/") and attachment.file.name.endswith(f"reply-{message.pk}.png")
    with attachment.file.open("rb") as stored:
        assert stored.read() == data
    assert [p for p in media_root.rglob("*") if p.is_file()] == [media_root / attachment.file.name]
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "[photo]"


@pytest.mark.parametrize(
    ("data", "name", "media_type", "content_type"),
    [
        (padded(b"\xff\xd8\xff\xe0", 5 * MB), "exactly-5mb.jpg", "photo", "image/jpeg"),
        (webp(), "sticker.webp", "photo", "image/webp"),
        (padded(GIF, 12 * MB), "dance.gif", "animated_gif", "image/gif"),
        (png(), "named-wrong.gif", "photo", "image/png"),  # the content decides, not the name
    ],
)
def test_images_and_gifs_x_takes_are_accepted_by_their_content(
    conversation, agent, enqueued, data, name, media_type, content_type
):
    message = create(conversation, agent, attachment=upload(data, name=name, content_type="application/octet-stream"))

    attachment = message.attachments.get()
    assert (attachment.media_type, attachment.content_type, attachment.size_bytes) == (
        media_type,
        content_type,
        len(data),
    )


@pytest.mark.parametrize(
    ("data", "name", "error"),
    [
        (b"<html><script>alert(1)</script></html>", "photo.png", "photo.png is not a JPEG, PNG, WebP or GIF image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "logo.svg", "logo.svg is not a JPEG, PNG, WebP or GIF image"),
        (b"", "empty.png", "empty.png is empty."),
        (padded(png(), 5 * MB + 1), "big.png", "big.png is 5.1 MB; X takes a PNG image of up to 5 MB"),
        (padded(GIF, 15 * MB + 1), "huge.gif", "huge.gif is 15.1 MB; X takes a GIF of up to 15 MB"),
    ],
)
def test_files_x_does_not_take_are_refused_with_the_reason(
    conversation, agent, enqueued, media_root, data, name, error
):
    with pytest.raises(ReplyError) as refused:
        create(conversation, agent, attachment=upload(data, name=name))

    assert str(refused.value).startswith(error)
    assert not Message.objects.filter(direction="outbound").exists()
    assert not MessageAttachment.objects.exists() and not any(p.is_file() for p in media_root.rglob("*"))


@pytest.mark.parametrize("token", ["", "  ", "x" * 65])
def test_a_reply_without_a_usable_client_token_is_refused(conversation, agent, enqueued, token):
    with pytest.raises(ReplyError, match="reload the page"):
        create(conversation, agent, token=token)


def test_someone_outside_the_inbox_cannot_reply(conversation, enqueued, published):
    outsider = make_agent()

    with pytest.raises(ReplyNotAllowed):
        create(conversation, outsider)

    assert not Message.objects.filter(direction="outbound").exists() and enqueued == []


def test_an_admin_may_reply_in_any_inbox(conversation, enqueued):
    admin = make_agent(role="admin")

    assert create(conversation, admin).sender_agent == admin


# --- one composed reply, one message --------------------------------------------------------------------------


def test_the_same_client_token_twice_is_one_message_sent_once(
    conversation, agent, published, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = create(conversation, agent, token="double-click")
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        again = create(conversation, agent, token="double-click", attachment=upload(png()))

    assert again.pk == first.pk
    assert Message.objects.filter(direction="outbound").count() == 1 and not MessageAttachment.objects.exists()
    assert enqueued == [first.pk] and published.sent == []


def test_a_token_used_in_another_conversation_is_refused(conversation, agent, enqueued):
    create(conversation, agent, token="reused")
    other = dm_event_ingest(inbox=conversation.inbox, event=dm(conversation.inbox, "783214")).message.conversation

    with pytest.raises(ReplyError, match="already used"):
        create(other, agent, token="reused")


@pytest.mark.django_db(transaction=True)
def test_two_submits_at_the_same_moment_store_and_send_one_message(agent, published, enqueued):
    needs_postgresql()
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER)).message.conversation

    for attempt in range(5):
        submit = functools.partial(create, conversation, agent, token=f"twin-{attempt}")
        results = run_together(submit, submit)

        assert all(isinstance(r, Message) for r in results), results
        assert results[0].pk == results[1].pk
    assert Message.objects.filter(direction="outbound").count() == 5
    assert sorted(enqueued) == sorted(Message.objects.filter(direction="outbound").values_list("pk", flat=True))
    assert len(published.of("message.created")) == 1 + 5  # the customer's message, then one per reply


@pytest.mark.django_db(transaction=True)
def test_the_same_token_in_two_conversations_at_once_stores_one_message(agent, enqueued):
    needs_postgresql()
    inbox = make_inbox(members=(agent,))
    first = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER)).message.conversation
    second = dm_event_ingest(inbox=inbox, event=dm(inbox, "783214")).message.conversation

    results = run_together(lambda: create(first, agent, token="one"), lambda: create(second, agent, token="one"))

    assert Message.objects.filter(direction="outbound").count() == 1
    assert sorted(type(r).__name__ for r in results) == ["Message", "ReplyError"], results
    assert len(enqueued) == 1


# --- sending it again -----------------------------------------------------------------------------------------
