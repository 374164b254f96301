"""Agents' replies sent to the real X sandbox: what the customer gets, and how X's failures end.

The world is set up and looked at through the sandbox (its control API, and X's own API as the
customer); Backchannel goes through ``reply_create`` and the ``twitter_channel.reply_send`` task, inline
(Celery eager) except in the last tests, which run a real worker.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inbox.models import Conversation, Message
from inbox.services.inboxes import inbox_member_add
from inbox.services.replies import reply_create
from tests.celery_worker import CeleryWorker
from tests.factories import make_agent
from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
from tests.twitter_channel.x.client_sandbox import png, x_client
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel import tasks
from twitter_channel.inbound.sync import account_poll
from twitter_channel.models import XAccount
from twitter_channel.outbound import ratelimit, reply_lookup, sending
from twitter_channel.x.results import XDmEvent

pytestmark = pytest.mark.django_db

SEND_PATH = f"/2/dm_conversations/with/{CUSTOMER_ID}/messages"
KENJI_ID = "783214"


def customer_writes(sandbox: Sandbox, text: str = "Where is my parcel?", customer: str = "maria_codes") -> None:
    sandbox.control("POST", f"users/{customer}/messages", {"to": "AcmeSupport", "text": text})


def inbox_polls(account: XAccount, capture) -> None:
    with capture(execute=True):
        result = account_poll(account_id=account.pk)
    assert result.complete, result


def the_conversation(account: XAccount, capture, *, text: str = "Where is my parcel?") -> Conversation:
    """The customer's message, polled into the inbox; its conversation."""
    inbox_polls(account, capture)
    return Message.objects.get(text=text).conversation


def reply(conversation: Conversation, agent, capture, text: str = "It left our warehouse today.", **kw: Any):
    """The agent replies; the send task runs inline after the commit, as the quick start does."""
    kw.setdefault("client_token", f"token-{time.monotonic_ns()}")
    with capture(execute=True):
        message = reply_create(conversation_id=conversation.pk, author=agent, text=text, **kw)
    message.refresh_from_db()
    return message


def business_messages(sandbox: Sandbox, customer: str = "maria_codes") -> list[XDmEvent]:
    """The business's messages in the customer's one-to-one conversation, as the customer sees them on X."""
    client = x_client(sandbox, user=customer)
    try:
        page = client.participant_events_page(BUSINESS_ID, event_types=["MessageCreate"])
    finally:
        client.close()
    return [event for event in page.events if event.sender_id == BUSINESS_ID]


def messages_sent_by_business(sandbox: Sandbox) -> int:
    return sandbox.control("GET", "counters")["messages_by_sender"].get(BUSINESS_ID, 0)


def fault(sandbox: Sandbox, kind: str, *, path: str = SEND_PATH, **extra: Any) -> None:
    sandbox.control("POST", "faults", {"kind": kind, "method": "POST", "path": path, "count": 1, **extra})


def states(published, message: Message) -> list[str]:
    return [m["delivery_state"] for m in published.of("message.updated") if m["message_id"] == message.pk]


# --- it arrives ---------------------------------------------------------------------------------------------


def test_a_reply_reaches_the_customer_once_and_the_poll_confirms_it(
    x_sandbox, account, agent, published, django_capture_on_commit_callbacks
):
    # given a customer's question in the inbox
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    published.clear()

    # when the agent replies
    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    # then the customer has it on X, once, and the reply knows X's event id
    at_x = business_messages(x_sandbox)
    assert [(e.text, e.id) for e in at_x] == [("It left our warehouse today.", message.x_event_id)]
    assert messages_sent_by_business(x_sandbox) == 1
    assert (message.delivery_state, message.error_detail, message.x_confirmed_at) == ("sent", "", None)
    assert states(published, message) == ["sending", "sent"]

    # when the next poll brings X's copy of it, it confirms the reply rather than adding a message
    inbox_polls(account, django_capture_on_commit_callbacks)
    assert list(conversation.messages.filter(direction="outbound").values_list("pk", flat=True)) == [message.pk]
    message.refresh_from_db()
    assert message.x_confirmed_at is not None and published.of("message.updated")[-1]["confirmed_by_x"] is True

    # and the task running again (a redelivery) sends nothing
    assert tasks.reply_send.apply(args=(message.pk,)).result["outcome"] == "skipped"
    assert messages_sent_by_business(x_sandbox) == 1


def test_a_double_submit_reaches_the_customer_once(x_sandbox, account, agent, django_capture_on_commit_callbacks):
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)

    first = reply(conversation, agent, django_capture_on_commit_callbacks, client_token="one-click")
    second = reply(conversation, agent, django_capture_on_commit_callbacks, client_token="one-click")

    assert first.pk == second.pk and first.delivery_state == "sent"
    assert messages_sent_by_business(x_sandbox) == 1


def test_a_photo_reply_arrives_with_its_image(x_sandbox, account, agent, django_capture_on_commit_callbacks):
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    image = png()

    message = reply(
        conversation,
        agent,
        django_capture_on_commit_callbacks,
        text="Here is your return label.",
        attachment=SimpleUploadedFile("label.png", image, content_type="image/png"),
    )

    assert message.delivery_state == "sent", message.error_detail
    maria = x_client(x_sandbox, user="maria_codes")
    try:
        page = maria.participant_events_page(BUSINESS_ID, event_types=["MessageCreate"])
        [event] = [e for e in page.events if e.sender_id == BUSINESS_ID]
        assert (event.id, event.text) == (message.x_event_id, "Here is your return label.")
        [media] = event.media
        assert media.type == "photo"
        content, content_type = maria.media_download(media.url)
    finally:
        maria.close()
    assert (content, content_type) == (image, "image/png")


def test_a_reply_to_a_group_goes_into_the_group(x_sandbox, account, agent, django_capture_on_commit_callbacks):
    # given a group María started with the business and Kenji
    maria = x_client(x_sandbox, user="maria_codes")
    try:
        group_id = maria.dm_group_create([BUSINESS_ID, KENJI_ID], text="Our order for the team").dm_conversation_id
    finally:
        maria.close()
    conversation = the_conversation(account, django_capture_on_commit_callbacks, text="Our order for the team")
    assert (conversation.kind, conversation.x_conversation_id) == ("group", group_id)

    # when the agent replies
    message = reply(conversation, agent, django_capture_on_commit_callbacks, text="Hello both!")

    # then it is in the group, where Kenji sees it too, and not in a one-to-one conversation with María
    assert message.delivery_state == "sent", message.error_detail
    kenji = x_client(x_sandbox, user="kenji_t")
    try:
        events = kenji.conversation_events_page(group_id, event_types=["MessageCreate"]).events
    finally:
        kenji.close()
    assert [(e.id, e.text) for e in events if e.sender_id == BUSINESS_ID] == [(message.x_event_id, "Hello both!")]
    assert business_messages(x_sandbox) == [] and messages_sent_by_business(x_sandbox) == 1


# --- X says no --------------------------------------------------------------------------------------------------


def test_a_customer_who_does_not_accept_dms_fails_the_reply_with_x_s_reason(
    x_sandbox, account, agent, published, django_capture_on_commit_callbacks
):
    x_sandbox.control("POST", "users", {"username": "quiet_quinn", "name": "Quinn", "accepts_dms": False})
    customer_writes(x_sandbox, text="Please call me instead", customer="quiet_quinn")
    conversation = the_conversation(account, django_capture_on_commit_callbacks, text="Please call me instead")

    message = reply(conversation, agent, django_capture_on_commit_callbacks, text="Sure, what's your number?")

    assert message.delivery_state == "failed" and message.x_event_id is None
    assert message.error_detail == "X refused this reply: You cannot send messages to this user."
    assert messages_sent_by_business(x_sandbox) == 0
    assert states(published, message)[-1] == "failed"


def test_an_account_that_needs_reconnecting_fails_the_reply_with_what_to_do(
    x_sandbox, account, agent, django_capture_on_commit_callbacks
):
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    XAccount.objects.filter(pk=account.pk).update(status=XAccount.Status.NEEDS_RECONNECTION, status_detail="Revoked.")

    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    assert message.delivery_state == "failed"
    assert message.error_detail.startswith("Reconnect @AcmeSupport under Settings → X accounts")
    assert messages_sent_by_business(x_sandbox) == 0


# --- X does not answer ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["503", "500", "accept_then_fail"])
def test_x_failing_once_is_retried_and_the_reply_arrives_once(
    x_sandbox, account, agent, published, django_capture_on_commit_callbacks, kind
):
    # given X answering the next send with a 5xx: before doing it, or after (accept_then_fail)
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    fault(x_sandbox, kind)

    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    assert x_sandbox.control("GET", "faults") == [], "the fault fired"
    assert message.delivery_state == "sent" and message.error_detail == ""
    assert [e.id for e in business_messages(x_sandbox)] == [message.x_event_id]
    assert messages_sent_by_business(x_sandbox) == 1
    assert states(published, message) == ["sending", "queued", "sending", "sent"]


@pytest.mark.parametrize("kind", ["reset", "hang"])
def test_inline_a_send_x_did_not_answer_fails_rather_than_risk_a_second_copy(
    x_sandbox, account, agent, settings, django_capture_on_commit_callbacks, kind
):
    # given X dropping the connection of the next send, or taking longer than we wait (doing the work anyway)
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    settings.X_READ_TIMEOUT = 0.5
    fault(x_sandbox, kind, seconds=1.5)

    # when the agent replies with tasks inline (the quick start), which cannot wait for X to finish
    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    # then the reply fails at once, telling the agent to look on X, and is not sent a second time
    assert message.delivery_state == "failed"
    assert message.error_detail.startswith(f"X did not answer (POST {SEND_PATH}: ")
    assert message.error_detail.endswith(sending.MAY_HAVE_REACHED)
    expected = 1 if kind == "hang" else 0  # X finishes the hung request after our client gave up
    deadline = time.monotonic() + 10
    while messages_sent_by_business(x_sandbox) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert messages_sent_by_business(x_sandbox) == expected


def test_a_send_that_timed_out_but_reached_x_is_found_rather_than_sent_again(
    x_sandbox, account, agent, settings, django_capture_on_commit_callbacks
):
    # given a reply, and X that takes longer to answer than we wait (it does the work anyway)
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):  # the test runs the attempts itself
        message = reply_create(conversation_id=conversation.pk, author=agent, text="On its way.", client_token="t")
    settings.X_READ_TIMEOUT = 0.5
    fault(x_sandbox, "hang", seconds=1.5)

    # when the first attempt times out
    began = timezone.now()
    first = sending.reply_deliver(message_id=message.pk)

    # then the reply waits for another attempt, which will look on X first, and not before X must be done
    # with the request it gave up on: X_SEND_VISIBILITY_MARGIN after that
    message.refresh_from_db()
    assert (first.outcome, first.failures, message.delivery_state) == ("retry", 1, "queued")
    assert first.unconfirmed_since is not None and message.send_after == first.retry_at
    assert first.retry_at >= began + timedelta(seconds=settings.X_SEND_VISIBILITY_MARGIN + 0.5)
    assert message.error_detail.startswith(f"X did not answer (POST {SEND_PATH}: no answer within 0.5s)")

    # when X has finished what it was asked, and the next attempt runs
    deadline = time.monotonic() + 10
    while messages_sent_by_business(x_sandbox) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    Message.objects.filter(pk=message.pk).update(send_after=timezone.now())  # the retry's time has come
    second = sending.reply_deliver(
        message_id=message.pk, failures=first.failures, unconfirmed_since=first.unconfirmed_since
    )

    # then it takes the message X has, and sends nothing more
    message.refresh_from_db()
    assert second.outcome == "sent" and message.delivery_state == "sent"
    assert [e.id for e in business_messages(x_sandbox)] == [message.x_event_id]
    assert messages_sent_by_business(x_sandbox) == 1


def test_x_never_answering_fails_the_reply_after_the_last_attempt(
    x_sandbox, account, agent, django_capture_on_commit_callbacks
):
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    fault(x_sandbox, "503", count=sending.MAX_ATTEMPTS)

    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    assert message.delivery_state == "failed"
    assert message.error_detail.startswith(f"X did not answer after {sending.MAX_ATTEMPTS} attempts (last: POST ")
    assert "503 Service Unavailable" in message.error_detail
    assert "look at the conversation on X before sending it again" in message.error_detail
    assert messages_sent_by_business(x_sandbox) == 0


def test_the_retry_delay_doubles_with_jitter_up_to_its_cap_and_never_undercuts_the_margin_after_a_post():
    margin = reply_lookup.visibility_margin().total_seconds()
    for failures, ceiling in [(1, 15), (2, 30), (3, 60), (6, 480), (7, 600), (20, 600)]:
        waits = [sending.retry_delay(failures, posted=False) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (failures, min(waits), max(waits))
        assert len(set(waits)) > 1
        after_a_post = [sending.retry_delay(failures, posted=True) for _ in range(200)]
        assert all(max(ceiling / 2, margin) <= w <= max(ceiling, margin) for w in after_a_post)


# --- X's rate limit ----------------------------------------------------------------------------------------------


def test_a_rate_limited_reply_waits_in_the_queue_until_x_s_reset(
    x_sandbox, account, agent, published, django_capture_on_commit_callbacks
):
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        message = reply_create(conversation_id=conversation.pk, author=agent, text="On its way.", client_token="t")
    fault(x_sandbox, "429", seconds=120)

    before = timezone.now()
    attempt = sending.reply_deliver(message_id=message.pk)
    after = timezone.now()

    message.refresh_from_db()
    assert attempt.outcome == "retry" and attempt.failures == 0
    # X's reset (whole seconds, 120 s after it answered) and a second more
    assert before + timedelta(seconds=119) <= attempt.retry_at <= after + timedelta(seconds=121)
    assert message.delivery_state == "queued"
    assert message.error_detail.startswith("X's rate limit for @AcmeSupport is used up; the reply goes out at ")
    assert attempt.retry_at.strftime("%H:%M:%S UTC") in message.error_detail
    assert messages_sent_by_business(x_sandbox) == 0

    # before the reset it may not be claimed; at the reset, the retry sends it
    assert sending.reply_deliver(message_id=message.pk).outcome == "waiting"
    Message.objects.filter(pk=message.pk).update(send_after=timezone.now())
    ratelimit.resume(account=account)  # the 429 paused the account's sending until X's reset: it is over
    assert sending.reply_deliver(message_id=message.pk).outcome == "sent"
    assert messages_sent_by_business(x_sandbox) == 1


def test_inline_tasks_cannot_wait_so_a_rate_limited_reply_fails_with_when_to_send_it(
    x_sandbox, account, agent, django_capture_on_commit_callbacks
):
    customer_writes(x_sandbox)
    conversation = the_conversation(account, django_capture_on_commit_callbacks)
    fault(x_sandbox, "429", seconds=120)

    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    assert message.delivery_state == "failed"
    assert message.error_detail.startswith("X's rate limit for @AcmeSupport is used up until ")
    assert message.error_detail.endswith("; send the reply again then.")


# --- through a real worker ------------------------------------------------------------------------------------------


def test_replies_are_routed_to_the_send_queue():
    route = current_app.amqp.router.route({}, "twitter_channel.reply_send")
    assert route["queue"].name == "send"


@pytest.mark.django_db(transaction=True)
def test_a_worker_sends_the_reply_after_x_s_rate_limit_resets(x_sandbox, celery_worker: CeleryWorker):
    # given a customer's question, brought in by the worker's backfill when the account is connected
    customer_writes(x_sandbox)
    account = connect_through_sandbox(x_sandbox)
    agent = make_agent()
    inbox_member_add(inbox=account.inbox, user=agent)

    def backfilled() -> Conversation:
        question = Message.objects.filter(text="Where is my parcel?").select_related("conversation").first()
        assert question is not None, "the backfill has not brought the customer's message yet"
        return question.conversation

    conversation = celery_worker.eventually(backfilled)
    # and X's rate limit used up for two more seconds
    fault(x_sandbox, "429", seconds=2)

    # when the agent replies (the task goes through Redis to the worker's `send` queue)
    message = reply_create(conversation_id=conversation.pk, author=agent, text="On its way.", client_token="w1")

    # then the worker waits for X's reset and sends it, once
    def sent() -> Message:
        current = Message.objects.get(pk=message.pk)
        assert current.delivery_state == "sent", (current.delivery_state, current.error_detail)
        return current

    sent_message = celery_worker.eventually(sent, seconds=30)
    assert [e.id for e in business_messages(x_sandbox)] == [sent_message.x_event_id]
    assert messages_sent_by_business(x_sandbox) == 1
    log = celery_worker.log()
    assert "twitter_channel.reply_send" in log and " retry: Retry at " in log
