"""A conversation's summary is X's order applied to its stored messages, whatever order anything arrived in."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from inbox.dm_events import DmMedia
from inbox.models import Conversation
from inbox.services.ingest import dm_event_ingest, dm_events_ingest
from inbox.services.replies import reply_mark_sending, reply_mark_sent
from inbox.services.summaries import conversation_summaries_recompute
from tests.factories import BASE_TIME, dm, make_inbox
from tests.inbox.reply_helpers import CUSTOMER, create

pytestmark = pytest.mark.django_db

ID = 1_870_000_000_000_000_000


def summary(conversation: Conversation) -> tuple:
    conversation.refresh_from_db()
    return (
        conversation.last_message_at,
        conversation.last_message_preview,
        conversation.needs_reply,
        conversation.last_inbound_at,
        conversation.first_response_at,
    )


def same_millisecond_pair(inbox):
    """The business answers and the customer writes again on the same millisecond; X numbered the customer's later."""
    question = dm(inbox, CUSTOMER, text="Where is it?", at=BASE_TIME, event_id=str(ID))
    answer = dm(inbox, CUSTOMER, text="On its way", at=BASE_TIME + timedelta(seconds=1), event_id=str(ID + 10),
                from_business=True)  # fmt: skip
    again = dm(inbox, CUSTOMER, text="Still nothing", at=BASE_TIME + timedelta(seconds=1), event_id=str(ID + 11))
    return question, answer, again


X_ORDER = (BASE_TIME + timedelta(seconds=1), "Still nothing", True, BASE_TIME + timedelta(seconds=1),
           BASE_TIME + timedelta(seconds=1))  # fmt: skip


@pytest.mark.parametrize("arrival", [(0, 1, 2), (0, 2, 1), (2, 1, 0), (1, 2, 0)])
def test_a_tie_on_x_millisecond_goes_to_x_event_id_one_event_at_a_time(arrival):
    inbox = make_inbox()
    events = same_millisecond_pair(inbox)

    for i in arrival:
        conversation = dm_event_ingest(inbox=inbox, event=events[i]).message.conversation

    assert summary(conversation) == X_ORDER


@pytest.mark.parametrize("split", [1, 2])
def test_a_tie_on_x_millisecond_goes_to_x_event_id_in_batches(split):
    inbox = make_inbox()
    question, answer, again = same_millisecond_pair(inbox)
    arrival = [again, question, answer]

    dm_events_ingest(inbox=inbox, events=arrival[:split])
    results = dm_events_ingest(inbox=inbox, events=arrival[split:])

    assert summary(results[0].message.conversation) == X_ORDER


def test_a_reply_moved_to_x_time_before_a_customer_message_leaves_the_customer_waiting(agent, enqueued, settings):
    # given a question, and a reply written after it (stored with our clock)
    settings.X_REPLY_UNDO_SECONDS = 0
    inbox = make_inbox(members=(agent,))
    asked = timezone.now() - timedelta(minutes=5)
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, text="Hi?", at=asked)).message.conversation
    reply = create(conversation, agent, text="Hello!")
    # and a customer message X timed after the moment X will say it took the reply
    dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, text="Anyone?", at=asked + timedelta(minutes=2)))

    # when X confirms the reply, at a time before that customer message
    reply_mark_sending(message_id=reply.pk)
    reply_mark_sent(message_id=reply.pk, x_event_id=str(ID + 5), sent_at=asked + timedelta(minutes=1))

    # then the customer's message is the newest: the conversation waits for a reply
    assert summary(conversation) == (
        asked + timedelta(minutes=2),
        "Anyone?",
        True,
        asked + timedelta(minutes=2),
        asked + timedelta(minutes=1),
    )


# Messages of one conversation as (seconds after BASE_TIME, from the business, with a photo and no text):
# few distinct seconds, so ties on X's time are common; X's event id follows the list's order.
THREADS = st.lists(st.tuples(st.integers(0, 4), st.booleans(), st.booleans()), min_size=1, max_size=8)


@given(thread=THREADS, arrival=st.permutations(range(8)), batch_ends=st.sets(st.integers(1, 7)))
@example(thread=[(1, False, False), (1, False, False)], arrival=[1, 0, 2, 3, 4, 5, 6, 7], batch_ends={1})
@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_after_every_ingest_the_summary_is_what_the_stored_thread_says(thread, arrival, batch_ends):
    # given a conversation's messages, in X's order, with ties on X's time, replies and photos
    inbox = make_inbox()
    events = [
        replace(
            dm(inbox, CUSTOMER, text="" if photo else f"m{n}", at=BASE_TIME + timedelta(seconds=second),
               event_id=str(ID + n), from_business=from_business),
            attachments=(DmMedia(media_type="photo"),) if photo else (),
        )
        for n, (second, from_business, photo) in enumerate(thread)
    ]  # fmt: skip

    # when they arrive in any order, in batches of any size, as a webhook drain ingests them (the summary
    # then taken on from the new messages or worked out again from the thread)
    events = [events[n] for n in arrival if n < len(events)]
    ends = sorted({end for end in batch_ends if end < len(events)} | {len(events)})
    start = 0
    for end in ends:
        with transaction.atomic():
            results = dm_events_ingest(inbox=inbox, events=events[start:end], savepoints=False)
        conversation = results[0].message.conversation
        start = end

        # then after each batch the stored summary is the one the stored thread gives
        stored = summary(conversation)
        conversation_summaries_recompute(conversations=[conversation])
        assert stored == (
            conversation.last_message_at,
            conversation.last_message_preview,
            conversation.needs_reply,
            conversation.last_inbound_at,
            conversation.first_response_at,
        )
    Conversation.objects.all().delete()
