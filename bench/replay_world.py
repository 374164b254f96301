"""A replay of X's webhook deliveries as they really arrive: shuffled, repeated, many on the same millisecond.

Shared by ``bench/replay.py`` (full size) and ``tests/twitter_channel/inbound/test_webhook_replay.py`` (scaled down).
Pure Python, no Django: it makes the signed Account Activity bodies X would POST, one DM each, and says
independently of the code under test what X's order makes of them (``expected``): each conversation's
thread, in X's order (X's time, then X's event id), and its summary (the newest message's time and
preview, whether the customer wrote last, the customer's newest message, the business's first answer
after the customer's first message).

Many events share X's millisecond, across conversations and within one: a tie on the millisecond is
what made the order of arrival decide the summaries before they were derived. One conversation is busy
(``busy_share`` of all events), the others share the rest; a share of the events are the business's own
messages (sent from X's apps), a few are photos without text, and about ``duplicate_share`` of the
deliveries are X's retries of a delivery already sent (the same body again).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

BUSINESS_ID = "1500000000000000001"
FIRST_CUSTOMER = 3_100_000_000
T0_MS = 1_793_534_400_000  # 2026-11-01 12:00 UTC
# X's ids are snowflakes: milliseconds since X's epoch, shifted left 22 bits, plus a sequence within the millisecond.
_X_EPOCH_MS = 1_288_834_974_657


@dataclass(frozen=True)
class XEvent:
    event_id: str
    ms: int
    customer: str
    inbound: bool
    text: str
    photo: bool

    @property
    def preview(self) -> str:
        text = " ".join(self.text.split())[:200]
        return text or ("[photo]" if self.photo else "")


@dataclass(frozen=True)
class Expected:
    """A conversation as X's order makes it; times in epoch milliseconds, None where there is none."""

    thread: tuple[str, ...]
    last_message_ms: int
    preview: str
    needs_reply: bool
    last_inbound_ms: int | None
    first_response_ms: int | None


@dataclass(frozen=True)
class World:
    events: tuple[XEvent, ...]
    bodies: tuple[bytes, ...]  # in order of arrival, duplicates included

    def expected(self) -> dict[str, Expected]:
        """Per customer, what X's order makes of their conversation (see ``expected_conversation``)."""
        by_customer: dict[str, list[XEvent]] = {}
        for event in self.events:
            by_customer.setdefault(event.customer, []).append(event)
        return {customer: expected_conversation(events) for customer, events in by_customer.items()}


def expected_conversation(events: list[XEvent]) -> Expected:
    thread = sorted(events, key=lambda e: (e.ms, int(e.event_id)))
    last = thread[-1]
    inbound = [i for i, event in enumerate(thread) if event.inbound]
    first_response = None
    if inbound:
        first_response = next((e.ms for e in thread[inbound[0] + 1 :] if not e.inbound), None)
    return Expected(
        thread=tuple(e.event_id for e in thread),
        last_message_ms=last.ms,
        preview=last.preview,
        needs_reply=last.inbound,
        last_inbound_ms=max((thread[i].ms for i in inbound), default=None),
        first_response_ms=first_response,
    )


def conversation_id(customer: str) -> str:
    low, high = sorted((int(customer), int(BUSINESS_ID)))
    return f"{low}-{high}"


def world(
    *,
    deliveries: int,
    conversations: int,
    busy_share: float = 0.2,
    duplicate_share: float = 0.3,
    outbound_share: float = 0.3,
    seed: int = 16,
) -> World:
    """``deliveries`` bodies in all, of which about ``duplicate_share`` repeat an earlier one; shuffled."""
    rng = random.Random(seed)
    unique = round(deliveries * (1 - duplicate_share))
    customers = [str(FIRST_CUSTOMER + n) for n in range(conversations)]
    busy = round(unique * busy_share)
    owners = [customers[0]] * busy + [rng.choice(customers[1:]) for _ in range(unique - busy)]
    counts: dict[str, int] = {}
    for owner in owners:
        counts[owner] = counts.get(owner, 0) + 1
    # Each conversation's events fall on about a third as many milliseconds as it has events: ties are common.
    milliseconds = {customer: max(1, count // 3) for customer, count in counts.items()}
    sequence_in_ms: dict[int, int] = {}
    events = []
    for n, customer in enumerate(owners):
        ms = T0_MS + rng.randrange(milliseconds[customer]) * 7
        sequence = sequence_in_ms.get(ms, 0)
        sequence_in_ms[ms] = sequence + 1
        event_id = str(((ms - _X_EPOCH_MS) << 22) + rng.randrange(1 << 12) * 512 + sequence)
        photo = rng.random() < 0.05
        text = "" if photo else rng.choice((f"message {n}", f"  message\n{n} ", f"message {n} " + "x" * 250))
        events.append(XEvent(event_id, ms, customer, rng.random() >= outbound_share, text, photo))
    bodies = [body(event) for event in events]
    bodies += [rng.choice(bodies) for _ in range(deliveries - unique)]
    rng.shuffle(bodies)
    return World(events=tuple(events), bodies=tuple(bodies))


def body(event: XEvent) -> bytes:
    """The Account Activity delivery X POSTs for ``event``."""
    sender, recipient = (event.customer, BUSINESS_ID) if event.inbound else (BUSINESS_ID, event.customer)
    data: dict = {"text": event.text, "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []}}
    if event.photo:  # no address to fetch it from: nothing may call out of this machine (no download is queued)
        data["attachment"] = {"type": "media", "media": {"id_str": event.event_id[:18], "type": "photo"}}
    payload = {
        "for_user_id": BUSINESS_ID,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": event.event_id,
                "created_timestamp": str(event.ms),
                "message_create": {"target": {"recipient_id": recipient}, "sender_id": sender, "message_data": data},
            }
        ],
        "users": {
            event.customer: {"id": event.customer, "name": f"Customer {event.customer}", "screen_name": "c"},
            BUSINESS_ID: {"id": BUSINESS_ID, "name": "Acme Support", "screen_name": "AcmeSupport"},
        },
    }
    return json.dumps(payload).encode()
