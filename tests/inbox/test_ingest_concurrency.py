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
