"""Messages ingested together (``dm_events_ingest``) end exactly as one by one would, in far fewer queries."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from inbox.dm_events import DmEvent, XUserProfile
from inbox.models import Contact, Conversation, ConversationEvent, Inbox, Message, Participant
from inbox.selectors.access import conversation_thread
from inbox.services.conversations import conversation_status_set
from inbox.services.ingest import dm_event_ingest, dm_events_ingest
from tests.factories import BASE_TIME, dm, make_inbox, minutes
from tests.helpers import REFUSAL, REFUSED_TEXT, database_refuses_one_message

pytestmark = pytest.mark.django_db

CUSTOMERS = ("2244994945", "3000000001", "3000000002", "3000000003")


def scenario(seed: int) -> list[tuple[str, int, bool, int | None, bool]]:
    """(customer, minute, from the business, profile version or None, before the batch), with repeats."""
    rng = random.Random(seed)
    steps = []
    for _ in range(40):
        steps.append(
            (rng.choice(CUSTOMERS), rng.randrange(0, 240), rng.random() < 0.35, rng.choice([None, None, 1, 2]), False)
        )
    for i in rng.sample(range(len(steps)), 8):
        steps[i] = (*steps[i][:4], True)  # some are stored before the batch arrives (webhook, then a poll)
    return steps


def events_for(inbox: Inbox, steps, seed: int) -> tuple[list[DmEvent], list[DmEvent]]:
    before, batch = [], []
    for n, (customer, minute, from_business, version, early) in enumerate(steps):
        profile = XUserProfile(customer, handle=f"c{customer}_v{version}", name=f"v{version}") if version else None
        event = dm(
            inbox,
            customer,
            text=f"{seed}-{n}",
            at=BASE_TIME + minutes(minute),
            from_business=from_business,
            event_id=str(1_870_000_000_000_000_000 + (seed * 1000 + n) * 4096),
            profile=profile,
        )
        (before if early else batch).append(event)
    rng = random.Random(seed + 1)
    batch += rng.sample(before, 3) + rng.sample(batch, 3)  # replays of stored events and repeats within the batch
    rng.shuffle(batch)
    return before, batch


def state(inbox: Inbox) -> dict:
    """What an agent sees, keyed by customer rather than by ids (the two inboxes have different ones)."""
    result = {}
    for conversation in Conversation.objects.filter(inbox=inbox).select_related("contact"):
        customer = conversation.x_conversation_id.replace(inbox.x_user_id, "").strip("-")
        result[customer] = {
            "summary": (
                conversation.status,
                conversation.last_message_at,
                conversation.last_message_preview.split("-")[-1],
                conversation.needs_reply,
                conversation.last_inbound_at,
                conversation.first_response_at,
                conversation.contact.x_user_id if conversation.contact else None,
                conversation.resolved_at is None,
            ),
            "thread": [
                (m.text.split("-")[-1], m.direction, m.occurred_at, m.x_confirmed_at is not None)
                for m in conversation_thread(conversation)
            ],
            "participants": sorted(
                Participant.objects.filter(conversation=conversation).values_list("contact__x_user_id", flat=True)
            ),
            "activity": sorted(
                ConversationEvent.objects.filter(conversation=conversation).values_list("kind", flat=True)
            ),
        }
    return result


@pytest.mark.parametrize("seed", range(6))
def test_a_shuffled_batch_with_replays_ends_as_one_by_one_ingest_would(seed, caplog):
    together, one_by_one = make_inbox(), make_inbox()
    runs = {}
    for inbox in (together, one_by_one):
        before, batch = events_for(inbox, scenario(seed), seed)
        for event in before:
            dm_event_ingest(inbox=inbox, event=event)
        # a conversation the team resolved before the batch: a newer customer message reopens it
        first = Conversation.objects.filter(inbox=inbox).order_by("x_conversation_id").first()
        if first is not None:
            conversation_status_set(conversation_id=first.pk, status=Conversation.Status.RESOLVED, actor=None)
            Conversation.objects.filter(pk=first.pk).update(status_changed_at=BASE_TIME + minutes(100))
        runs[inbox.pk] = batch

    results = dm_events_ingest(inbox=together, events=runs[together.pk])
    ordered = sorted(runs[one_by_one.pk], key=lambda e: (e.created_at, int(e.x_event_id)))
    expected = [dm_event_ingest(inbox=one_by_one, event=event) for event in ordered]

    assert "one at a time" not in caplog.text  # the batch really went in together
    assert state(together) == state(one_by_one)
    assert [(r.event.text.split("-")[-1], r.created) for r in results] == [
        (r.event.text.split("-")[-1], r.created) for r in expected
    ]


def test_echoes_of_our_own_replies_in_a_batch_confirm_them_and_stay_one_message_each(
    published, django_capture_on_commit_callbacks
):
    inbox = make_inbox()
    customer = CUSTOMERS[0]
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, customer, text="Hi")).message.conversation
    sent = [
        Message.objects.create(
            conversation=conversation, x_event_id=str(1_880_000_000_000_000_000 + n * 4096), text=f"reply {n}",
            direction=Message.Direction.OUTBOUND, occurred_at=BASE_TIME + minutes(n + 1),
            delivery_state=Message.DeliveryState.SENT,
        )
        for n in range(2)
    ]  # fmt: skip
    echoes = [
        dm(inbox, customer, text=m.text, from_business=True, event_id=m.x_event_id, at=m.occurred_at) for m in sent
    ]
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        results = dm_events_ingest(inbox=inbox, events=[*echoes, dm(inbox, customer, at=BASE_TIME + minutes(5))])

    assert [r.created for r in results] == [False, False, True]
    assert conversation.messages.count() == 4
    assert all(m.x_confirmed_at is not None for m in Message.objects.filter(pk__in=[m.pk for m in sent]))
    assert published.events().count("message.updated") == 2
    assert all(data["confirmed_by_x"] for data in published.of("message.updated"))


def test_the_newest_profile_in_a_batch_wins_and_an_older_one_does_not_roll_it_back():
    inbox = make_inbox()
    customer = CUSTOMERS[0]
    newer = XUserProfile(customer, handle="maria_new", name="María F.")
    older = XUserProfile(customer, handle="maria_old", name="Maria")

    dm_events_ingest(
        inbox=inbox,
        events=[
            dm(inbox, customer, at=BASE_TIME + minutes(5), profile=newer),
            dm(inbox, customer, at=BASE_TIME, profile=older),
            dm(inbox, customer, at=BASE_TIME + minutes(9)),
        ],
    )

    assert Contact.objects.get(x_user_id=customer).handle == "maria_new"


def test_fifty_messages_in_ten_conversations_take_a_fixed_handful_of_queries(django_assert_max_num_queries):
    inbox = make_inbox()
    warm = [dm(inbox, customer, at=BASE_TIME) for customer in CUSTOMERS] + [
        dm(inbox, str(4_000_000_000 + n), at=BASE_TIME) for n in range(6)
    ]
    dm_events_ingest(inbox=inbox, events=warm)  # the conversations exist; the customers have written
    customers = [*CUSTOMERS, *(str(4_000_000_000 + n) for n in range(6))]
    batch = [dm(inbox, customers[n % 10], at=BASE_TIME + timedelta(seconds=n + 1)) for n in range(50)]

    with django_assert_max_num_queries(12):
        results = dm_events_ingest(inbox=inbox, events=batch)

    assert all(result.created for result in results)
    assert Message.objects.filter(conversation__inbox=inbox).count() == 60


def test_a_batch_the_database_refuses_is_stored_one_by_one_and_only_the_refused_event_is_lost():
    database_refuses_one_message()
    inbox = make_inbox()
    events = [dm(inbox, CUSTOMERS[0], text=text, at=BASE_TIME + minutes(n)) for n, text in enumerate("abc")]
    events[1] = dm(inbox, CUSTOMERS[0], text=REFUSED_TEXT, at=BASE_TIME + minutes(1))
    refused: list[tuple[str, str]] = []

    results = dm_events_ingest(
        inbox=inbox, events=events, on_error=lambda event, exc: refused.append((event.text, type(exc).__name__))
    )

    assert [r.event.text for r in results] == ["a", "c"]
    assert refused == [(REFUSED_TEXT, "ProgrammingError")]
    assert list(Message.objects.order_by("occurred_at").values_list("text", flat=True)) == ["a", "c"]


def test_without_on_error_the_refused_event_is_raised():
    database_refuses_one_message()
    inbox = make_inbox()
    events = [dm(inbox, CUSTOMERS[0], text=REFUSED_TEXT), dm(inbox, CUSTOMERS[1])]

    with pytest.raises(Exception, match=REFUSAL):
        dm_events_ingest(inbox=inbox, events=events)
