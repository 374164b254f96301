"""What the thread shows for each kind of X event, and the retry of a failed reply."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from inbox.dm_events import DmEvent, DmEventType, DmMedia, XUserProfile
from inbox.models import Contact, Message, MessageAttachment
from inbox.services.attachments import attachment_file_store
from inbox.services.ingest import dm_event_ingest
from inbox.services.replies import reply_create, reply_mark_failed
from tests.factories import BASE_TIME, dm, make_agent, make_inbox, membership, minutes, next_event_id

pytestmark = pytest.mark.django_db

CUSTOMER = "2244994945"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


@pytest.fixture
def agent(client):
    user = make_agent(name="Alice Agent")
    client.force_login(user)
    return user


def thread_html(client, conversation_id: int) -> str:
    html = client.get(reverse("inbox:thread", args=[conversation_id])).content.decode()
    return html[html.index('id="timeline"') : html.index('id="typing"')]


def test_media_posts_links_and_quick_replies_render_as_cards_and_previews(client, agent):
    inbox = make_inbox(members=(agent,))
    event = DmEvent(
        x_event_id=next_event_id(),
        event_type=DmEventType.MESSAGE_CREATE,
        x_conversation_id=f"{CUSTOMER}-{inbox.x_user_id}",
        created_at=BASE_TIME,
        sender_id=CUSTOMER,
        text="Look https://t.co/abc https://t.co/pic",
        entities={"urls": [
            {"start": 5, "end": 21, "url": "https://t.co/abc", "expanded_url": "https://example.com/x",
             "display_url": "example.com/x"},
            {"start": 22, "end": 38, "url": "https://t.co/pic", "expanded_url": "https://twitter.com/messages/media/1",
             "display_url": "pic.x.com/pic", "media": True},
        ]},
        attachments=(DmMedia(media_type="animated_gif", media_key="16_1", url="https://video.twimg.com/x.mp4",
                             alt_text="a dancing mug"),),
        referenced_post_ids=("1578900353814519810",),
        quick_reply_response={"type": "options", "metadata": "order-status"},
        users={CUSTOMER: XUserProfile(x_user_id=CUSTOMER, handle="maria", name="María")},
    )  # fmt: skip
    message = dm_event_ingest(inbox=inbox, event=event).message
    attachment = MessageAttachment.objects.get(message=message)

    copying = thread_html(client, message.conversation_id)
    attachment_file_store(attachment_id=attachment.pk, content=GIF, content_type="image/gif", name="mug.gif")
    stored = thread_html(client, message.conversation_id)

    assert "GIF is being copied from X…" in copying
    media_url = reverse("inbox:attachment", args=[attachment.pk])
    assert f'data-lightbox="{media_url}"' in stored and f'<img class="media" src="{media_url}"' in stored
    assert 'aria-label="Open gif: a dancing mug"' in stored
    assert (
        '<a href="https://example.com/x" target="_blank" rel="noopener noreferrer nofollow">example.com/x</a>' in stored
    )
    assert "pic.x.com" not in stored and "t.co/pic" not in stored  # X's link to the attachment is the attachment
    assert 'href="https://x.com/i/web/status/1578900353814519810"' in stored
    assert "Chose option: <strong>order-status</strong>" in stored


def test_group_joins_and_leaves_are_lines_with_names(client, agent):
    inbox = make_inbox(members=(agent,))
    group, lena, tom = "1585800614365339648", "1001", "1002"
    dm_event_ingest(inbox=inbox, event=membership(group, joined=True, participants=(lena, tom), at=BASE_TIME,
                                                   sender=inbox.x_user_id))  # fmt: skip
    dm_event_ingest(inbox=inbox, event=membership(group, joined=False, participants=(tom,), at=BASE_TIME + minutes(5)))
    Contact.objects.filter(x_user_id=lena).update(name="Lena")
    conversation_id = Message.objects.first().conversation_id

    html = thread_html(client, conversation_id)

    text = " ".join(re.sub(r"<bdi>|</bdi>", "", html).split())  # names are isolated, for right-to-left ones
    assert "Lena, X user 1002 joined the conversation" in text
    assert "X user 1002 left the conversation" in text
    assert "<bdi>Lena</bdi>, <bdi>X user 1002</bdi> joined" in html


def test_a_failed_reply_shows_xs_reason_and_retries(client, agent):
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, text="hi")).message.conversation
    reply = reply_create(conversation_id=conversation.pk, author=agent, text="Hello", client_token="tok-1")
    reply_mark_failed(message_id=reply.pk, detail="X refused this reply: the recipient does not accept DMs.")

    failed = thread_html(client, conversation.pk)
    retried = client.post(reverse("inbox:retry", args=[conversation.pk, reply.pk]), headers={"X-Fragment": "1"})

    assert "Not delivered: X refused this reply: the recipient does not accept DMs." in failed
    assert 'action="' + reverse("inbox:retry", args=[conversation.pk, reply.pk]) + '"' in failed
    assert retried.status_code == 200 and "Queued" in retried.content.decode()
    assert Message.objects.get(pk=reply.pk).delivery_state == "queued"
    again = client.post(reverse("inbox:retry", args=[conversation.pk, reply.pk]), headers={"X-Fragment": "1"})
    assert again.status_code == 400
