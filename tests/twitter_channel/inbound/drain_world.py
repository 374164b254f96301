"""A world of DMs for the tests of drains working side by side: many customers writing, the business
answering some, each conversation's events delivered shuffled and partly twice, and what must come out."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from inbox.models import Conversation, Message
from tests.factories import one_to_one_id
from tests.twitter_channel.inbound.webhook_deliveries import FIRST_ID, T0_MS, aaa, message
from tests.xsandbox import BUSINESS_ID
from twitter_channel.models import WebhookDelivery


@dataclass(frozen=True)
class Dm:
    n: int
    customer: str
    outbound: bool

    @property
    def event_id(self) -> str:
        return str(FIRST_ID + self.n * 4096)

    @property
    def at_ms(self) -> int:
        return T0_MS + self.n * 10

    @property
    def text(self) -> str:
        return f"{'reply' if self.outbound else 'dm'} {self.n}"

    def event(self) -> dict:
        if self.outbound:
            return message(self.event_id, text=self.text, at_ms=self.at_ms, sender=BUSINESS_ID, to=self.customer)
        return message(self.event_id, text=self.text, at_ms=self.at_ms, sender=self.customer)


def dms(customers: int, per_customer: int, *, seed: int) -> list[Dm]:
    """``per_customer`` DMs in each of ``customers`` conversations, interleaved in X's time; about one in four
    is the business's answer (never the first of a conversation)."""
    rng = random.Random(seed)
    order = [c for c in range(customers) for _ in range(per_customer)]
    rng.shuffle(order)
    seen: set[int] = set()
    out = []
    for n, c in enumerate(order):
        out.append(Dm(n=n, customer=str(3_100_000_000 + c), outbound=c in seen and rng.random() < 0.25))
        seen.add(c)
    return out


def bodies(world: list[Dm], *, seed: int, duplicates: int) -> list[str]:
    """One delivery per DM, in a shuffled order, plus ``duplicates`` of them delivered again (X retries)."""
    rng = random.Random(seed)
    shuffled = world[:]
    rng.shuffle(shuffled)
    again = rng.sample(world, duplicates)
    return [json.dumps(aaa(direct_message_events=[dm.event()])) for dm in shuffled + again]


def assert_ingested_exactly_once_in_x_order(world: list[Dm]) -> None:
    """Every DM stored once, each thread in X's order, each conversation's summary what its DMs make it."""
    stored = list(Message.objects.values_list("x_event_id", flat=True))
    assert len(stored) == len(set(stored)), "a DM was stored twice"
    assert sorted(stored) == sorted(dm.event_id for dm in world)
    threads: dict[str, list[Dm]] = defaultdict(list)
    for dm in world:
        threads[dm.customer].append(dm)
    for customer, expected in threads.items():
        conversation = Conversation.objects.get(x_conversation_id=one_to_one_id(BUSINESS_ID, customer))
        assert list(conversation.messages.values_list("text", flat=True)) == [dm.text for dm in expected]
        last, inbound = expected[-1], [dm for dm in expected if not dm.outbound]
        first_reply = next((dm for dm in expected if dm.outbound), None)
        summary = (
            conversation.last_message_at,
            conversation.last_message_preview,
            conversation.needs_reply,
            conversation.last_inbound_at,
            conversation.first_response_at,
        )
        assert summary == (
            _time(last.at_ms),
            last.text,
            not last.outbound,
            _time(inbound[-1].at_ms),
            _time(first_reply.at_ms) if first_reply else None,
        ), customer
    statuses = set(WebhookDelivery.objects.values_list("status", flat=True))
    assert statuses == {WebhookDelivery.Status.PROCESSED}


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
