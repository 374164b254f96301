"""The listener's look before it drains (``listener._claimable``), on real PostgreSQL: it finds a delivery
waiting, and finds nothing when the only one waiting is held by a drain (the listeners that lose the race for
a ``NOTIFY`` skip the drain's transaction), and its look holds no lock afterwards."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from tests.twitter_channel.inbound.test_webhook_drain_parallel import one_dm
from tests.twitter_channel.inbound.webhook_deliveries import account_for
from twitter_channel.inbound import listener
from twitter_channel.inbound.deliveries import deliveries_drain, deliveries_receive
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listening(settings):
    if connection.vendor != "postgresql":
        pytest.fail("The listener needs PostgreSQL (LISTEN, SKIP LOCKED); set DATABASE_URL.")
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the test drains
    with listener._listening_connection() as own:
        yield own


def test_the_look_finds_a_waiting_delivery_and_nothing_once_it_is_drained(listening):
    account_for()
    assert not listener._claimable(listening)
    deliveries_receive(bodies=one_dm(0))
    assert listener._claimable(listening)
    assert listener._claimable(listening), "the look kept a lock"
    deliveries_drain()
    assert not listener._claimable(listening)


def test_the_look_finds_nothing_while_a_drain_holds_the_only_waiting_delivery(listening):
    # given one delivery waiting, locked by a drain's open transaction in another thread
    account_for()
    deliveries_receive(bodies=one_dm(0))
    held, release = threading.Event(), threading.Event()

    def drain_holding() -> None:
        try:
            with transaction.atomic():
                list(WebhookDelivery.objects.select_for_update())
                held.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=drain_holding)
    thread.start()
    try:
        assert held.wait(30)
        # then the look finds nothing to drain
        assert not listener._claimable(listening)
    finally:
        release.set()
        thread.join(30)
    # and once the holder is gone (it stored nothing), the delivery is there to drain again
    assert listener._claimable(listening)
