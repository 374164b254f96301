"""Fixtures of the reply tests (test_replies.py, test_reply_states.py): a conversation to reply in, and the
send task's enqueues recorded instead of run. Every inbox test keeps media files in a folder of its own."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from inbox.models import Conversation
from inbox.services.ingest import dm_event_ingest
from inbox.services.replies import SEND_TASK
from tests.factories import dm, make_agent, make_inbox
from tests.inbox.reply_helpers import CUSTOMER


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The message ids the send task was enqueued for (it is not run here)."""
    sent: list[int] = []
    lock = threading.Lock()

    def record(message_id: int) -> None:
        with lock:
            sent.append(message_id)

    monkeypatch.setattr(current_app.tasks[SEND_TASK], "delay", record)
    return sent


@pytest.fixture
def agent():
    return make_agent(name="Sam Support")


@pytest.fixture
def conversation(agent) -> Conversation:
    """A customer's question in an inbox ``agent`` works."""
    inbox = make_inbox(members=(agent,))
    event = dm(inbox, CUSTOMER, text="Where is my parcel?", at=timezone.now() - timedelta(minutes=5))
    return dm_event_ingest(inbox=inbox, event=event).message.conversation
