"""Two workers ingesting the same delivery at the same moment still store one message."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from inbox.models import Conversation, Message
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_inbox

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_ingest_of_one_event_stores_it_once():
    if connection.vendor != "postgresql":
        pytest.fail("This test needs PostgreSQL row locks; run it through `make test`.")
    inbox = make_inbox()
    events = [dm(inbox, "2244994945", text=f"burst {i}") for i in range(5)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for event in events:
                dm_event_ingest(inbox=inbox, event=event)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert Conversation.objects.count() == 1
    assert Message.objects.count() == 5


def test_a_batch_meeting_a_conversation_another_worker_is_creating_waits_and_joins_it():
    if connection.vendor != "postgresql":
        pytest.fail("This test needs PostgreSQL row locks; run it through `make test`.")
    from django.db import transaction

    from inbox.models import ConversationEvent
    from inbox.services.ingest import dm_events_ingest

    inbox = make_inbox()
    first = dm(inbox, "2244994945", text="first, from the poll")
    batch = [dm(inbox, "2244994945", text="second, from a webhook"), dm(inbox, "783214", text="someone else")]
    created_but_not_committed = threading.Event()
    errors: list[BaseException] = []

    def poll_worker() -> None:
        # creates the conversation and holds its transaction open while the batch runs into it
        try:
            with transaction.atomic():
                dm_event_ingest(inbox=inbox, event=first)
                created_but_not_committed.set()
                threading.Event().wait(1.0)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=poll_worker)
    thread.start()
    assert created_but_not_committed.wait(10)
    try:
        with transaction.atomic():
            results = dm_events_ingest(inbox=inbox, events=batch)
    finally:
        thread.join(timeout=30)

    assert errors == []
    assert all(result.created for result in results)
    assert Conversation.objects.count() == 2
    assert Message.objects.count() == 3
    shared = Conversation.objects.get(x_conversation_id=first.x_conversation_id)
    assert list(shared.messages.order_by("occurred_at", "pk").values_list("text", flat=True)) == [
        "first, from the poll",
        "second, from a webhook",
    ]
    assert ConversationEvent.objects.filter(kind=ConversationEvent.Kind.CREATED).count() == 2
