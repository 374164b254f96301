"""Drains side by side on real PostgreSQL: four at once, on many conversations and on one busy conversation,
with deliveries shuffled and partly delivered twice; and what one DM costs in statements.

Each drain runs in a thread of its own with a connection of its own, as the listeners of several worker
processes do (``test_webhook_ingest_workers`` runs them in real Celery workers).
"""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.twitter_channel.inbound.drain_world import assert_ingested_exactly_once_in_x_order, bodies, dms
from tests.twitter_channel.inbound.webhook_deliveries import FIRST_ID, T0_MS, aaa, account_for, message
from twitter_channel.inbound.deliveries import DrainResult, deliveries_drain, deliveries_receive
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)

DRAINS = 4


@pytest.fixture(autouse=True)
def on_postgresql(settings) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("Drains side by side need PostgreSQL (SKIP LOCKED, advisory locks); set DATABASE_URL.")
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the test drains, in its threads


def drains_at_once(batch_size: int) -> list[DrainResult]:
    """``DRAINS`` drains started together, each in its thread; wait for all; return what each did."""
    start = threading.Barrier(DRAINS)
    results: list[DrainResult] = []

    def drain() -> None:
        try:
            start.wait(10)
            results.append(deliveries_drain(batch_size=batch_size))
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(DRAINS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == DRAINS, "a drain did not finish"
    return results


def test_four_drains_at_once_on_many_conversations_store_every_dm_once_in_x_order():
    # given 40 customers' conversations, 400 DMs and answers, delivered shuffled, 60 of them twice
    account_for()
    world = dms(customers=40, per_customer=10, seed=1)
    deliveries_receive(bodies=bodies(world, seed=2, duplicates=60))

    # when four drains take them at once, in small batches
    results = drains_at_once(batch_size=10)

    # then each DM is stored once, in X's order, with its conversation's summary right
    assert_ingested_exactly_once_in_x_order(world)
    assert sum(result.deliveries for result in results) == 460
    assert sum(1 for result in results if result.deliveries) > 1, "the drains did not share the work"
    assert sum(WebhookDelivery.objects.values_list("messages_created", flat=True)) == 400
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}


def test_four_drains_at_once_on_one_busy_conversation_store_every_dm_once_in_x_order():
    # given one customer writing 150 DMs, with answers, delivered shuffled, 40 of them twice
    account_for()
    world = dms(customers=1, per_customer=150, seed=3)
    deliveries_receive(bodies=bodies(world, seed=4, duplicates=40))

    # when four drains take them at once
    results = drains_at_once(batch_size=10)

    # then the drains took turns on the conversation, and each DM is stored once, in X's order
    assert_ingested_exactly_once_in_x_order(world)
    assert sum(result.deliveries for result in results) == 190
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}


def one_dm(n: int) -> list[str]:
    return [json.dumps(aaa(direct_message_events=[message(FIRST_ID + n * 4096, text=f"m{n}", at_ms=T0_MS + n)]))]


def test_one_dm_costs_a_handful_of_statements_in_one_transaction():
    # given a conversation that exists (its first DM ingested)
    account_for()
    deliveries_receive(bodies=one_dm(0))
    deliveries_drain()

    # when the next DM is stored and drained
    with CaptureQueriesContext(connection) as received:
        deliveries_receive(bodies=one_dm(1))
    with CaptureQueriesContext(connection) as drained:
        assert deliveries_drain().deliveries == 1

    # then storing it is one INSERT and its NOTIFY; ingesting it, one transaction of nine statements: claim,
    # account, conversation locks, contacts, conversation (and whether it holds the DM already), message,
    # conversation update (its summary taken on from the DM, not read again), participants, outcome
    statements = [query["sql"] for query in drained.captured_queries]
    assert [query["sql"].split()[0] for query in received.captured_queries] == ["BEGIN", "INSERT", "NOTIFY", "COMMIT"]
    assert statements.count("BEGIN") == 1 and statements.count("COMMIT") == 1, statements
    assert not any(sql.startswith("SAVEPOINT") for sql in statements), statements
    assert len(statements) <= 11, "\n".join(statements)
