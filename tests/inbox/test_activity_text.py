"""The activity log's sentences (the audit log and the thread): each says who did what once."""

from __future__ import annotations

import pytest

from inbox.models import Contact, ConversationEvent, Message
from inbox.services.ingest import dm_event_ingest
from inbox.services.notes import note_create
from inbox.templatetags.inbox_format import activity_text
from tests.factories import BASE_TIME, make_agent, make_inbox, membership, minutes

pytestmark = pytest.mark.django_db


def test_a_participant_leaving_a_group_is_named_once_and_not_credited_to_backchannel():
    # given a group DM that Tom joined and left
    inbox = make_inbox()
    group, lena, tom = "1585800614365339648", "1001", "1002"
    dm_event_ingest(inbox=inbox, event=membership(group, joined=True, participants=(lena, tom), at=BASE_TIME,
                                                   sender=inbox.x_user_id))  # fmt: skip
    dm_event_ingest(inbox=inbox, event=membership(group, joined=False, participants=(tom,), at=BASE_TIME + minutes(5)))
    Contact.objects.filter(x_user_id=tom).update(name="Tom Tester")

    # when
    lines = [activity_text(event) for event in ConversationEvent.objects.order_by("id")]

    # then
    assert lines == [
        "Conversation started",
        "X user 1001 joined the group",
        "Tom Tester joined the group",
        "Tom Tester left the group",
    ]
    assert not any("Backchannel" in line for line in lines)


def test_a_note_is_credited_to_its_author_in_a_sentence():
    # given
    alice = make_agent(name="Alice Agent")
    inbox = make_inbox(members=(alice,))
    dm_event_ingest(inbox=inbox, event=membership("1585800614365339649", joined=True, participants=("1003",),
                                                   at=BASE_TIME, sender=inbox.x_user_id))  # fmt: skip
    conversation = Message.objects.get().conversation

    # when
    note_create(conversation_id=conversation.pk, author=alice, body="Called them back")

    # then
    assert activity_text(ConversationEvent.objects.get(kind="note_added")) == "Alice Agent added an internal note"
