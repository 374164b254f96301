"""The lookup on X before a reply is sent again (``twitter_channel.outbound.reply_lookup``), against the real sandbox.

A retry of a send X did not answer reads the conversation on X back to when that send began, however
many messages came after it; it stops at that cutoff; it sends nothing on a lookup X's read limit cut
short; and replies with the same text never take each other's message. The attempts run here in the
test process (``sending.reply_deliver``), one at a time, as the task would run them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from inbox.models import Message
from inbox.services.replies import reply_mark_sending, reply_requeue
from tests.twitter_channel.outbound.reply_world import (
    business_messages,
    business_sends_at_x,
    conversation_polled,
    customer_writes,
    fault,
    sent_by_business,
    texts_at_x,
)
from tests.twitter_channel.outbound.test_reconcile import stored_reply
from tests.twitter_channel.outbound.test_sending import KENJI_ID
from tests.twitter_channel.x.client_sandbox import x_client
from tests.xsandbox import BUSINESS_ID, Sandbox
from twitter_channel.connection.tokens import client_for
from twitter_channel.outbound import ratelimit, reply_lookup, sending

pytestmark = pytest.mark.django_db

READS = f"user:dm_get:{BUSINESS_ID}:900"  # the sandbox's count of the business's DM lookups, this 15 minutes


@pytest.fixture
def conversation(x_sandbox, account):
    customer_writes(x_sandbox)
    return conversation_polled(account)


def reads(sandbox: Sandbox) -> int:
    return reads_window(sandbox)["count"]


def reads_window(sandbox: Sandbox) -> dict:
    windows = sandbox.control("GET", "counters")["rate_windows"]
    return next(w for w in windows if w["key"] == READS)


def due(message: Message) -> None:
    """The retry's time has come (the test runs the attempts itself)."""
    Message.objects.filter(pk=message.pk).update(send_after=timezone.now())


def unanswered(sandbox: Sandbox, message: Message, kind: str = "accept_then_fail") -> sending.Attempt:
    """The reply's first attempt, which X fails with ``kind``: it waits for a retry that looks on X first."""
    fault(sandbox, kind)
    attempt = sending.reply_deliver(message_id=message.pk)
    assert attempt.outcome == "retry" and attempt.unconfirmed_since is not None, attempt
    return attempt


def retry(message: Message, after: sending.Attempt) -> sending.Attempt:
    due(message)
    return sending.reply_deliver(
        message_id=message.pk, failures=after.failures, unconfirmed_since=after.unconfirmed_since
    )


def test_a_send_x_took_is_found_behind_hundreds_of_newer_messages_and_not_sent_again(x_sandbox, conversation, agent):
    # given a reply X took but answered 503, and 250 messages of the business after it (2.5 pages of X's)
    message = stored_reply(conversation, agent, text="Your refund is on its way.")
    first = unanswered(x_sandbox, message)
    for n in range(250):
        business_sends_at_x(x_sandbox, f"Newer message {n}")

    # when its retry runs
    second = retry(message, first)

    # then it found the reply on X and sent nothing more
    assert second.outcome == "sent"
    message.refresh_from_db()
    [event] = [e for e in business_messages(x_sandbox) if e.text == "Your refund is on its way."]
    assert (message.delivery_state, message.x_event_id) == ("sent", event.id)
    assert sent_by_business(x_sandbox) == 251


def test_a_task_that_knows_nothing_of_the_unanswered_send_still_looks_on_x_first(x_sandbox, conversation, agent):
    # given a reply X took but answered 503, waiting for its retry
    message = stored_reply(conversation, agent, text="On its way.")
    unanswered(x_sandbox, message)
    assert Message.objects.get(pk=message.pk).send_unconfirmed_since is not None

    # when another task for it runs at the retry's time without the retry's arguments (a duplicate the
    # sweeper enqueued while it waited in a backlog, a redelivered one)
    due(message)
    attempt = sending.reply_deliver(message_id=message.pk)

    # then it looked on X (the reply's row says a send may be there), found it, and sent nothing more
    assert attempt.outcome == "sent"
    assert texts_at_x(x_sandbox) == Counter({"On its way.": 1}) and sent_by_business(x_sandbox) == 1


def test_a_send_x_refused_leaves_nothing_to_look_for(x_sandbox, account, conversation, agent):
    # given a reply whose POST X refused with a 429 (it did not take it)
    message = stored_reply(conversation, agent, text="On its way.")
    fault(x_sandbox, "429", seconds=1)
    assert sending.reply_deliver(message_id=message.pk).outcome == "retry"
    assert Message.objects.get(pk=message.pk).send_unconfirmed_since is None

    # when it is sent after X's reset, no read of X's is spent looking for it first
    ratelimit.resume(account=account)
    due(message)
    before = reads(x_sandbox)
    assert sending.reply_deliver(message_id=message.pk).outcome == "sent"
    assert reads(x_sandbox) == before and sent_by_business(x_sandbox) == 1


def test_the_lookup_reads_back_to_the_cutoff_and_no_further(x_sandbox, conversation, account, agent):
    # given 250 messages in the conversation, then ten minutes later on X's clock the reply and 150 more
    for n in range(249):
        customer_writes(x_sandbox, f"Older message {n}")
    x_sandbox.control("POST", "clock", {"seconds": 600})
    message = stored_reply(conversation, agent, text="Found it.")
    event_id = business_sends_at_x(x_sandbox, "Found it.")
    for n in range(150):
        business_sends_at_x(x_sandbox, f"Newer message {n}")
    before = reads(x_sandbox)

    # when the reply is looked for from five minutes ago (the cutoff: 7 minutes ahead of our clock, less the skew)
    client = client_for(account)
    try:
        found = reply_lookup.events_matching(client, account, message, since=timezone.now() + timedelta(minutes=7))
    finally:
        client.close()

    # then it is found, after two pages of 100: the second reached messages older than the cutoff, so the
    # three pages of older messages behind it were not read
    assert [e.x_event_id for e in found] == [event_id]
    assert reads(x_sandbox) - before == 2


def test_a_lookup_cut_short_by_x_s_read_limit_waits_for_the_reset_and_sends_nothing(x_sandbox, conversation, agent):
    # given a reply X took but answered 503, 150 messages after it, and one lookup request left at X
    message = stored_reply(conversation, agent, text="On its way.")
    first = unanswered(x_sandbox, message)
    for n in range(150):
        business_sends_at_x(x_sandbox, f"Newer message {n}")
    one_left = [[900, reads(x_sandbox) + 1]]
    x_sandbox.control("POST", "rate-limits", {"endpoint": "dm_get", "scope": "user", "windows": one_left})

    # when its retry runs: the first page does not reach the reply, and X says no read is left
    second = retry(message, first)

    # then it cannot tell, so it sends nothing and waits for X's reset, still to look on X first
    message.refresh_from_db()
    assert (second.outcome, message.delivery_state) == ("retry", "queued")
    assert message.error_detail.startswith("X's rate limit for @AcmeSupport is used up; the reply goes out at ")
    assert second.unconfirmed_since == first.unconfirmed_since and message.send_after == second.retry_at
    reset = datetime.fromisoformat(reads_window(x_sandbox)["started_at"]) + timedelta(seconds=900)
    assert abs(second.retry_at - reset) < timedelta(seconds=1), "X's reset of its 15-minute window (whole seconds)"
    assert sent_by_business(x_sandbox) == 151

    # and after the reset (here: the limit lifted), the next attempt finds it
    x_sandbox.control("POST", "rate-limits", {"endpoint": "dm_get", "scope": "user", "windows": [[900, 300]]})
    assert retry(message, second).outcome == "sent"
    assert texts_at_x(x_sandbox)["On its way."] == 1 and sent_by_business(x_sandbox) == 151


def test_two_replies_with_the_same_text_that_x_took_unanswered_each_keep_one_message(x_sandbox, conversation, agent):
    # given two replies "Thanks!" that X took but answered 503
    first_reply = stored_reply(conversation, agent, text="Thanks!", token="a")
    second_reply = stored_reply(conversation, agent, text="Thanks!", token="b")
    first = unanswered(x_sandbox, first_reply)
    second = unanswered(x_sandbox, second_reply)

    # when both retries run
    assert retry(first_reply, first).outcome == "sent"
    assert retry(second_reply, second).outcome == "sent"

    # then each is recorded with a message of its own, and X has the text twice, as the agent wrote it
    at_x = {e.id for e in business_messages(x_sandbox) if e.text == "Thanks!"}
    recorded = set(Message.objects.filter(text="Thanks!").values_list("x_event_id", flat=True))
    assert len(at_x) == 2 and recorded == at_x


def test_a_reply_does_not_take_the_message_of_another_reply_with_the_same_text(x_sandbox, conversation, agent):
    # given a reply X refused with a 503 (it did nothing), then the same words sent and recorded
    first_reply = stored_reply(conversation, agent, text="Thanks!", token="a")
    first = unanswered(x_sandbox, first_reply, kind="503")
    second_reply = stored_reply(conversation, agent, text="Thanks!", token="b")
    assert sending.reply_deliver(message_id=second_reply.pk).outcome == "sent"

    # when the first one's retry looks on X, it finds only the second's message, which is taken
    assert retry(first_reply, first).outcome == "sent"

    # so it sent its own: X has both, each recorded once
    assert texts_at_x(x_sandbox) == Counter({"Thanks!": 2})
    first_reply.refresh_from_db()
    second_reply.refresh_from_db()
    assert first_reply.x_event_id != second_reply.x_event_id


def test_while_a_reply_with_the_same_text_is_being_sent_the_lookup_takes_nothing(x_sandbox, conversation, agent):
    # given a reply X took but answered 503, and a second reply with its text claimed by an attempt that
    # may be about to record the message X answered it with
    first_reply = stored_reply(conversation, agent, text="Thanks!", token="a")
    first = unanswered(x_sandbox, first_reply)
    second_reply = stored_reply(conversation, agent, text="Thanks!", token="b")
    assert reply_mark_sending(message_id=second_reply.pk) is not None

    # when the first one's retry finds "Thanks!" on X, it cannot tell whose it is
    waiting = retry(first_reply, first)
    first_reply.refresh_from_db()
    assert (waiting.outcome, first_reply.delivery_state, first_reply.x_event_id) == ("waiting", "queued", None)
    assert first_reply.send_after == waiting.retry_at > timezone.now()
    assert first_reply.error_detail.startswith("X has a message with this text, and another reply with the same")
    assert sent_by_business(x_sandbox) == 1

    # and once the second one's attempt has ended (X did not answer it), the next look takes the message
    reply_requeue(message_id=second_reply.pk, detail="X did not answer")
    assert retry(first_reply, waiting).outcome == "sent"
    assert sent_by_business(x_sandbox) == 1


def test_a_send_into_a_group_that_x_took_unanswered_is_found_there(x_sandbox, account, agent):
    # given a group María started with the business and Kenji, and a reply into it that X took but answered 503
    maria = x_client(x_sandbox, user="maria_codes")
    try:
        group_id = maria.dm_group_create([BUSINESS_ID, KENJI_ID], text="Our order for the team").dm_conversation_id
    finally:
        maria.close()
    conversation = conversation_polled(account, text="Our order for the team")
    message = stored_reply(conversation, agent, text="Hello both!")
    fault(x_sandbox, "accept_then_fail", path=f"/2/dm_conversations/{group_id}/messages")
    first = sending.reply_deliver(message_id=message.pk)
    assert first.outcome == "retry"

    # when its retry runs, it finds the message in the group and sends nothing more
    assert retry(message, first).outcome == "sent"
    assert sent_by_business(x_sandbox) == 1
