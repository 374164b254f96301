from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, ConversationEvent
from inbox.services.conversations import ConversationStatusError, conversation_status_set
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation() -> Conversation:
    inbox = make_inbox()
    return dm_event_ingest(inbox=inbox, event=dm(inbox, "2244994945")).message.conversation


def test_resolving_stamps_the_time_logs_and_publishes(conversation, published, django_capture_on_commit_callbacks):
    lead = make_agent(role="lead")

    with django_capture_on_commit_callbacks(execute=True):
        updated = conversation_status_set(conversation_id=conversation.pk, status="resolved", actor=lead)

    assert updated.status == "resolved" and updated.resolved_at is not None
    event = conversation.events.get(kind=ConversationEvent.Kind.STATUS_CHANGED)
    assert (event.actor, event.parameters["old"], event.parameters["new"]) == (lead, "open", "resolved")
    assert published.events() == ["conversation.updated"]
    assert published.of("conversation.updated")[0]["status"] == "resolved"


def test_snooze_until_a_time(conversation):
    until = timezone.now() + timedelta(hours=3)

    updated = conversation_status_set(
        conversation_id=conversation.pk, status="snoozed", actor=None, snoozed_until=until
    )

    assert (updated.status, updated.snoozed_until) == ("snoozed", until)


def test_setting_the_same_status_again_changes_nothing(conversation, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        conversation_status_set(conversation_id=conversation.pk, status="open", actor=None)

    assert published.sent == []
    assert not conversation.events.filter(kind=ConversationEvent.Kind.STATUS_CHANGED).exists()


@pytest.mark.parametrize(
    "status, until, message",
    [
        ("closed", None, "Unknown status 'closed'"),
        ("pending", timezone.now() + timedelta(hours=1), "only goes with the 'snoozed' status"),
        ("snoozed", timezone.now() - timedelta(hours=1), "must end in the future"),
    ],
)
def test_invalid_changes_are_refused_and_change_nothing(conversation, status, until, message):
    with pytest.raises(ConversationStatusError, match=message):
        conversation_status_set(conversation_id=conversation.pk, status=status, actor=None, snoozed_until=until)

    conversation.refresh_from_db()
    assert conversation.status == "open"
