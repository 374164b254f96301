"""Deliveries replayed as X really sends them (shuffled, repeated, ties on X's millisecond) end as X ordered them.

The scenario and what X's order makes of it come from ``bench/replay_world.py`` (``bench/replay.py`` runs
it at full size); the expected summaries are worked out there from the events themselves, not by the code
under test. The deliveries go through the real drain (``deliveries_drain``), in batches, as they arrive.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bench import replay_world
from inbox.models import Conversation, Message
from inbox.selectors.access import conversation_thread
from tests.twitter_channel.inbound.webhook_deliveries import account_for
from twitter_channel.inbound.deliveries import deliveries_drain, deliveries_receive
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(ms: int | None) -> datetime | None:
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)


def test_two_thousand_shuffled_deliveries_with_duplicates_end_as_x_ordered_them():
    # given 2,000 deliveries (30% X's retries, shuffled), a quarter of them in one busy conversation, the rest
    # spread over 40 others, with many messages on the same millisecond, the customer's and the business's
    account = account_for(replay_world.BUSINESS_ID)
    world = replay_world.world(deliveries=2000, conversations=41, busy_share=0.25, duplicate_share=0.3)
    expected = world.expected()
    assert len(world.events) == 1400 and len(expected[str(replay_world.FIRST_CUSTOMER)].thread) == 350
    tied = Counter((e.customer, e.ms) for e in world.events)
    assert sum(n for n in tied.values() if n > 1) > 700  # most messages share their millisecond with another

    # when they arrive in bursts and the drain takes each burst in batches of 100
    for start in range(0, len(world.bodies), 150):
        deliveries_receive(bodies=[body.decode() for body in world.bodies[start : start + 150]])
        deliveries_drain(batch_size=100)

    # then every delivery was processed, and every message is stored once
    assert Counter(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed": 2000}
    stored = Counter(Message.objects.values_list("x_event_id", flat=True))
    assert len(stored) == 1400 and set(stored.values()) == {1}
    # and each conversation's thread is in X's order and its summary is the one X's order gives
    conversations = {c.x_conversation_id: c for c in Conversation.objects.filter(inbox=account.inbox)}
    assert len(conversations) == 41
    wrong = []
    for customer, want in expected.items():
        conversation = conversations[replay_world.conversation_id(customer)]
        thread = tuple(m.x_event_id for m in conversation_thread(conversation))
        summary = (
            conversation.last_message_at,
            conversation.last_message_preview,
            conversation.needs_reply,
            conversation.last_inbound_at,
            conversation.first_response_at,
        )
        wanted = (
            at(want.last_message_ms),
            want.preview,
            want.needs_reply,
            at(want.last_inbound_ms),
            at(want.first_response_ms),
        )
        if thread != want.thread or summary != wanted:
            wrong.append((customer, summary, wanted))
    assert wrong == []
