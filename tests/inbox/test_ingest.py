"""The ingest service: every X DM event lands exactly once, in X's order, and is published after commit."""

from __future__ import annotations

import random

import pytest

from inbox.dm_events import DmEvent, DmEventType, DmMedia, XUserProfile
from inbox.models import Contact, Conversation, ConversationEvent, Message, Participant
from inbox.selectors.access import conversation_thread
from inbox.services.conversations import conversation_status_set
from inbox.services.ingest import dm_event_ingest, dm_events_ingest
from tests.factories import BASE_TIME, dm, make_inbox, membership, minutes, next_event_id

pytestmark = pytest.mark.django_db

CUSTOMER = "2244994945"


def test_same_event_ingested_five_times_is_one_message(published, django_capture_on_commit_callbacks):
    # given
    inbox = make_inbox()
    event = dm(inbox, CUSTOMER, text="Where is my order?")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        results = [dm_event_ingest(inbox=inbox, event=event) for _ in range(5)]

    # then
    assert [r.created for r in results] == [True, False, False, False, False]
    assert {r.message.pk for r in results} == {results[0].message.pk}
    assert Message.objects.filter(x_event_id=event.x_event_id).count() == 1
    assert Conversation.objects.count() == 1
    assert published.events() == ["conversation.created", "message.created"]
    assert published.of("message.created")[0]["x_event_id"] == event.x_event_id


def test_nothing_is_published_before_commit(published, django_capture_on_commit_callbacks):
    inbox = make_inbox()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER))
        assert published.sent == []

    for callback in callbacks:
        callback()
    assert published.events() == ["conversation.created", "message.created"]


def test_fifty_shuffled_events_keep_x_order(published, django_capture_on_commit_callbacks):
    # given: 50 messages, several sharing a second (X's v2 created_at), delivered in random order
    inbox = make_inbox()
    events = [
        dm(inbox, CUSTOMER, text=f"message {i}", at=BASE_TIME + minutes(i // 3), from_business=i % 4 == 3)
        for i in range(50)
    ]
    shuffled = events[:]
    random.Random(20261121).shuffle(shuffled)
    assert shuffled != events

    # when
    with django_capture_on_commit_callbacks(execute=True):
        for event in shuffled:
            dm_event_ingest(inbox=inbox, event=event)

    # then
    conversation = Conversation.objects.get()
    assert [m.text for m in conversation_thread(conversation)] == [f"message {i}" for i in range(50)]
    assert conversation.last_message_at == events[-1].created_at
    assert published.events().count("message.created") == 50
    assert published.events().count("conversation.created") == 1
    assert {d["x_event_id"] for d in published.of("message.created")} == {e.x_event_id for e in events}


def test_batch_ingest_orders_by_x_time():
    inbox = make_inbox()
    events = [dm(inbox, CUSTOMER, text=str(i), at=BASE_TIME + minutes(i)) for i in range(5)]

    results = dm_events_ingest(inbox=inbox, events=reversed(events))

    assert [r.message.text for r in results] == ["0", "1", "2", "3", "4"]


def test_join_and_leave_update_membership(published, django_capture_on_commit_callbacks):
    # given a group the business is in
    inbox = make_inbox()
    group = "1585800614365339648"
    lena, tom = "906948460078698496", "944480690"

    # when: both join, then Tom leaves
    with django_capture_on_commit_callbacks(execute=True):
        dm_event_ingest(
            inbox=inbox,
            event=membership(group, joined=True, participants=(lena, tom), at=BASE_TIME, sender=inbox.x_user_id),
        )
        dm_event_ingest(
            inbox=inbox, event=membership(group, joined=False, participants=(tom,), at=BASE_TIME + minutes(5))
        )

    # then
    conversation = Conversation.objects.get(x_conversation_id=group)
    assert conversation.kind == Conversation.Kind.GROUP
    active = {p.contact.x_user_id: p.is_active for p in conversation.participants.select_related("contact")}
    assert active == {lena: True, tom: False}
    log = [(e.kind, e.parameters.get("x_user_id")) for e in conversation.events.all()]
    assert log == [
        (ConversationEvent.Kind.CREATED, None),
        (ConversationEvent.Kind.PARTICIPANT_JOINED, lena),
        (ConversationEvent.Kind.PARTICIPANT_JOINED, tom),
        (ConversationEvent.Kind.PARTICIPANT_LEFT, tom),
    ]
    assert [m.event_type for m in conversation_thread(conversation)] == ["ParticipantsJoin", "ParticipantsLeave"]
    assert [m.direction for m in conversation_thread(conversation)] == ["system", "system"]
    assert published.events() == ["conversation.created", "message.created", "message.created"]


def test_membership_follows_x_time_not_arrival_order():
    # a leave at 10:05 and a re-join at 10:10 arrive in reverse
    inbox = make_inbox()
    group, tom = "1585800614365339648", "944480690"
    rejoin = membership(group, joined=True, participants=(tom,), at=BASE_TIME + minutes(10))
    leave = membership(group, joined=False, participants=(tom,), at=BASE_TIME + minutes(5))

    dm_event_ingest(inbox=inbox, event=rejoin)
    dm_event_ingest(inbox=inbox, event=leave)

    participant = Participant.objects.get(contact__x_user_id=tom)
    assert participant.is_active is True
    assert participant.joined_at == rejoin.created_at
    assert participant.left_at == leave.created_at


@pytest.mark.parametrize(
    "status", [Conversation.Status.RESOLVED, Conversation.Status.SNOOZED, Conversation.Status.PENDING]
)
def test_new_inbound_message_reopens(status, published, django_capture_on_commit_callbacks):
    # given a conversation an agent has closed for now
    inbox = make_inbox()
    first = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, at=BASE_TIME)).message
    conversation_status_set(conversation_id=first.conversation_id, status=status, actor=None)
    published.clear()

    # when the customer writes again
    with django_capture_on_commit_callbacks(execute=True):
        dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, text="Still broken", at=BASE_TIME.replace(year=2030)))

    # then
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.resolved_at is None and conversation.snoozed_until is None
    assert conversation.needs_reply is True
    assert conversation.events.filter(kind=ConversationEvent.Kind.REOPENED, parameters__previous_status=status).exists()
    assert published.events() == ["conversation.updated", "message.created"]
    assert published.of("conversation.updated")[0]["status"] == "open"
    assert "status" in published.of("conversation.updated")[0]["changed"]


def test_backfilled_old_message_does_not_reopen(published, django_capture_on_commit_callbacks):
    # given a resolved conversation
    inbox = make_inbox()
    first = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, at=BASE_TIME.replace(year=2030))).message
    conversation_status_set(conversation_id=first.conversation_id, status="resolved", actor=None)
    published.clear()

    # when a backfill brings a customer message from before it was resolved
    with django_capture_on_commit_callbacks(execute=True):
        dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, at=BASE_TIME))

    # then it joins the thread but the conversation stays resolved
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.RESOLVED
    assert conversation.messages.count() == 2
    assert published.events() == ["message.created"]


def test_business_message_from_another_client_is_outbound_and_answers(published, django_capture_on_commit_callbacks):
    inbox = make_inbox()
    dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, at=BASE_TIME))

    with django_capture_on_commit_callbacks(execute=True):
        reply = dm_event_ingest(
            inbox=inbox, event=dm(inbox, CUSTOMER, at=BASE_TIME + minutes(7), from_business=True)
        ).message

    conversation = Conversation.objects.get()
    assert reply.direction == Message.Direction.OUTBOUND
    assert reply.delivery_state == Message.DeliveryState.SENT
    assert reply.sender_contact is None
    assert conversation.needs_reply is False
    assert conversation.first_response_at == BASE_TIME + minutes(7)
    assert conversation.status == Conversation.Status.OPEN
    assert set(published.of("conversation.updated")[0]["changed"]) >= {"first_response_at", "needs_reply"}


def test_first_response_is_first_business_message_after_the_customer_even_out_of_order():
    inbox = make_inbox()
    later_reply = dm(inbox, CUSTOMER, at=BASE_TIME + minutes(30), from_business=True)
    early_reply = dm(inbox, CUSTOMER, at=BASE_TIME + minutes(10), from_business=True)
    question = dm(inbox, CUSTOMER, at=BASE_TIME)

    for event in (later_reply, question, early_reply):
        dm_event_ingest(inbox=inbox, event=event)

    assert Conversation.objects.get().first_response_at == early_reply.created_at


def test_a_late_earlier_customer_message_moves_the_first_response_to_the_reply_after_it():
    inbox = make_inbox()
    reply = dm(inbox, CUSTOMER, at=BASE_TIME + minutes(10), from_business=True)
    question = dm(inbox, CUSTOMER, at=BASE_TIME + minutes(20))
    earlier_question = dm(inbox, CUSTOMER, at=BASE_TIME + minutes(5))

    dm_event_ingest(inbox=inbox, event=reply)
    dm_event_ingest(inbox=inbox, event=question)
    assert Conversation.objects.get().first_response_at is None  # the reply came before the customer wrote

    dm_event_ingest(inbox=inbox, event=earlier_question)
    assert Conversation.objects.get().first_response_at == reply.created_at


def test_a_profile_longer_than_its_columns_is_cut_to_fit_and_the_message_is_kept():
    inbox = make_inbox()
    profile = XUserProfile(CUSTOMER, handle="h" * 80, name="N" * 300, avatar_url="https://x.test/" + "a" * 600)

    result = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, at=BASE_TIME, profile=profile))

    assert result.created
    contact = Contact.objects.get(x_user_id=CUSTOMER)
    assert (contact.handle, contact.name, contact.avatar_url) == ("h" * 50, "N" * 100, "")


def test_message_fields_and_contact_profile_are_stored():
    inbox = make_inbox()
    profile = XUserProfile(
        CUSTOMER,
        handle="maria_codes",
        name="María",
        avatar_url="https://pbs.twimg.com/a.jpg",
        description="dev",
        location="Madrid",
        followers_count=12,
        verified=True,
        protected=False,
    )
    event = DmEvent(
        x_event_id=next_event_id(),
        event_type=DmEventType.MESSAGE_CREATE,
        x_conversation_id=f"{CUSTOMER}-{inbox.x_user_id}",
        created_at=BASE_TIME,
        sender_id=CUSTOMER,
        text="Look https://t.co/abc",
        entities={"urls": [{"url": "https://t.co/abc", "expanded_url": "https://example.com/x", "indices": [5, 21]}]},
        attachments=(
            DmMedia(
                media_type="photo",
                media_key="3_1583157113245011970",
                url="https://ton.twitter.com/x.jpg",
                width=640,
                height=480,
                alt_text="a broken mug",
            ),
        ),
        referenced_post_ids=("1578900353814519810",),
        quick_reply_response={"type": "options", "metadata": "order-status"},
        users={CUSTOMER: profile},
    )

    message = dm_event_ingest(inbox=inbox, event=event).message

    message.refresh_from_db()
    assert message.direction == "inbound" and message.delivery_state == ""
    assert message.entities["urls"][0]["expanded_url"] == "https://example.com/x"
    assert message.referenced_post_ids == ["1578900353814519810"]
    assert message.quick_reply_response == {"type": "options", "metadata": "order-status"}
    attachment = message.attachments.get()
    assert (attachment.media_type, attachment.media_key, attachment.alt_text) == (
        "photo",
        "3_1583157113245011970",
        "a broken mug",
    )
    contact = Contact.objects.get(x_user_id=CUSTOMER)
    assert (contact.handle, contact.name, contact.location, contact.followers_count, contact.verified) == (
        "maria_codes",
        "María",
        "Madrid",
        12,
        True,
    )
    assert message.conversation.contact == contact
    assert message.conversation.last_message_preview == "Look https://t.co/abc"


def test_older_payload_does_not_roll_back_a_profile():
    inbox = make_inbox()
    new = XUserProfile(CUSTOMER, handle="maria_new", name="María F.")
    old = XUserProfile(CUSTOMER, handle="maria_old", name="Maria")

    dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, at=BASE_TIME + minutes(5), profile=new))
    dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, at=BASE_TIME, profile=old))

    assert Contact.objects.get(x_user_id=CUSTOMER).handle == "maria_new"


def test_same_x_conversation_in_two_inboxes_is_two_conversations():
    # two of our own accounts can be in one group; each inbox keeps its own copy
    first, second = make_inbox(), make_inbox()
    event = membership("1585800614365339648", joined=True, participants=(CUSTOMER,), at=BASE_TIME)

    dm_event_ingest(inbox=first, event=event)
    dm_event_ingest(inbox=second, event=event)

    assert Conversation.objects.filter(x_conversation_id="1585800614365339648").count() == 2
    assert Message.objects.filter(x_event_id=event.x_event_id).count() == 2


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"x_event_id": "abc"}, "numeric"),
        ({"created_at": BASE_TIME.replace(tzinfo=None)}, "timezone-aware"),
        ({"event_type": DmEventType.PARTICIPANTS_JOIN}, "participant_ids"),
    ],
)
def test_malformed_events_are_refused_before_they_reach_the_database(kwargs, error):
    fields = {
        "x_event_id": "1",
        "event_type": DmEventType.MESSAGE_CREATE,
        "x_conversation_id": "1-2",
        "created_at": BASE_TIME,
    }
    with pytest.raises(ValueError, match=error):
        DmEvent(**{**fields, **kwargs})


def test_the_echo_of_our_own_reply_confirms_it_and_stays_one_message(published, django_capture_on_commit_callbacks):
    inbox = make_inbox()
    with django_capture_on_commit_callbacks(execute=True):
        first = dm_event_ingest(inbox=inbox, event=dm(inbox, CUSTOMER, text="Hi"))
    conversation = first.message.conversation
    sent = Message.objects.create(
        conversation=conversation, x_event_id=next_event_id(), direction=Message.Direction.OUTBOUND,
        text="On it!", occurred_at=BASE_TIME + minutes(1), delivery_state=Message.DeliveryState.SENT,
    )  # fmt: skip
    published.clear()
    echo = dm(inbox, CUSTOMER, text="On it!", from_business=True, event_id=sent.x_event_id, at=BASE_TIME + minutes(1))

    with django_capture_on_commit_callbacks(execute=True):
        results = [dm_event_ingest(inbox=inbox, event=echo) for _ in range(3)]

    assert [r.created for r in results] == [False, False, False]
    assert conversation.messages.count() == 2
    sent.refresh_from_db()
    assert sent.x_confirmed_at is not None
    assert published.events() == ["message.updated"]
    assert published.of("message.updated")[0]["confirmed_by_x"] is True


def test_a_reply_sent_from_the_x_app_arrives_as_an_outbound_message_from_that_app():
    inbox = make_inbox()
    event = dm(inbox, CUSTOMER, text="Sent from my phone", from_business=True)
    event = DmEvent(
        **{**event.__dict__, "source_app_name": "X for iPhone", "initiated_via_post_id": "1580000000000000001"}
    )

    message = dm_event_ingest(inbox=inbox, event=event).message

    assert message.direction == Message.Direction.OUTBOUND and message.delivery_state == Message.DeliveryState.SENT
    assert message.source_app_name == "X for iPhone" and message.x_confirmed_at is not None
    assert message.initiated_via_post_id == "1580000000000000001"
