"""The replies sweeper (``twitter_channel.outbound.reconcile``): lost tasks enqueued again, interrupted sends
reconciled with what X has, by the rule in that module's docstring.

The sweeper runs here in the test process against the real sandbox, and the send tasks it enqueues run
inline (Celery eager). tests/twitter_channel/outbound/test_reconcile_workers.py kills real workers instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from inbox.models import Message
from inbox.services.replies import reply_create, reply_mark_failed, reply_mark_sending, reply_requeue
from inbox.services.reply_recovery import reply_claim_renew, reply_claim_take_over, reply_unconfirmed_clear
from tests.twitter_channel.outbound.reply_world import (
    business_messages,
    business_sends_at_x,
    conversation_polled,
    customer_writes,
    fault,
    sent_by_business,
    texts_at_x,
)
from tests.xsandbox import CUSTOMER_ID
from twitter_channel import tasks
from twitter_channel.models import XAccount
from twitter_channel.outbound import ratelimit, reconcile, sending

pytestmark = pytest.mark.django_db

LOOKUP_PATH = f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events"
LONG_AGO = timedelta(minutes=10)


@pytest.fixture
def conversation(x_sandbox, account):
    customer_writes(x_sandbox)
    return conversation_polled(account)


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The send tasks the sweeper enqueues, recorded instead of run."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.reply_send, "apply_async", lambda kwargs=None, **_: calls.append(kwargs or {}))
    return calls


def stored_reply(conversation, agent, text: str = "It left our warehouse today.", token: str = "t1") -> Message:
    """A reply stored ``queued`` whose send task never ran: outside ``django_capture_on_commit_callbacks`` the
    test's transaction never commits, so the enqueue after commit is lost, as a broker outage loses it."""
    return reply_create(conversation_id=conversation.pk, author=agent, text=text, client_token=token)


def age(message: Message, **fields: Any) -> None:
    Message.objects.filter(pk=message.pk).update(**fields)


def sweep(capture, **kw: Any) -> reconcile.SweepResult:
    with capture(execute=True):
        return reconcile.replies_sweep(**kw)


# --- queued replies whose task was lost ------------------------------------------------------------------------


def test_a_queued_reply_whose_task_was_lost_is_enqueued_again_and_sent_once(
    x_sandbox, conversation, agent, django_capture_on_commit_callbacks
):
    # given a reply committed long ago whose task never came
    message = stored_reply(conversation, agent)
    age(message, created_at=timezone.now() - LONG_AGO)

    # when the sweeper runs
    result = sweep(django_capture_on_commit_callbacks)

    # then its task is enqueued again (inline here) and the customer has it once
    assert result.requeued == 1
    message.refresh_from_db()
    assert message.delivery_state == "sent" and message.send_claimed_at is None
    assert texts_at_x(x_sandbox) == {"It left our warehouse today.": 1}

    # and the next sweep has nothing to do
    assert sweep(django_capture_on_commit_callbacks).requeued == 0
    assert sent_by_business(x_sandbox) == 1


def test_fresh_and_waiting_queued_replies_are_left_alone(
    conversation, agent, enqueued, django_capture_on_commit_callbacks
):
    fresh = stored_reply(conversation, agent, text="Fresh", token="fresh")
    waiting = stored_reply(conversation, agent, text="Waiting for X", token="waiting")
    age(waiting, created_at=timezone.now() - LONG_AGO, send_after=timezone.now() + timedelta(minutes=5))
    just_due = stored_reply(conversation, agent, text="Just due", token="due")
    age(just_due, created_at=timezone.now() - LONG_AGO, send_after=timezone.now() - timedelta(seconds=10))

    result = sweep(django_capture_on_commit_callbacks)

    assert result.requeued == 0 and enqueued == []
    left = Message.objects.filter(pk__in=[fresh.pk, waiting.pk, just_due.pk])
    assert set(left.values_list("delivery_state", flat=True)) == {"queued"}


def test_a_stuck_reply_gets_one_extra_task_per_grace_period(
    conversation, agent, enqueued, django_capture_on_commit_callbacks
):
    message = stored_reply(conversation, agent)
    age(message, created_at=timezone.now() - LONG_AGO)

    before = timezone.now()
    first, second = sweep(django_capture_on_commit_callbacks), sweep(django_capture_on_commit_callbacks)

    assert (first.requeued, second.requeued) == (1, 0)
    assert enqueued == [{"message_id": message.pk}], "never attempted: sent without looking on X first"
    message.refresh_from_db()
    assert message.send_after >= before, "due again only a grace period after it was taken"
    assert sweep(django_capture_on_commit_callbacks, grace=timedelta(0)).requeued == 1, "and then taken again"


def test_a_lost_retry_of_a_send_x_may_have_taken_looks_on_x_before_sending(
    x_sandbox, conversation, agent, django_capture_on_commit_callbacks
):
    # given a reply X took but answered 503, waiting for its retry, which was lost with its worker
    message = stored_reply(conversation, agent, text="On its way.")
    fault(x_sandbox, "accept_then_fail")
    attempt = sending.reply_deliver(message_id=message.pk)
    assert attempt.outcome == "retry" and sent_by_business(x_sandbox) == 1
    age(message, send_after=timezone.now() - LONG_AGO)

    # when the sweeper enqueues it again
    result = sweep(django_capture_on_commit_callbacks)

    # then the new task looked on X first, found it, and sent nothing more
    assert result.requeued == 1
    message.refresh_from_db()
    assert message.delivery_state == "sent"
    assert [e.id for e in business_messages(x_sandbox)] == [message.x_event_id]
    assert sent_by_business(x_sandbox) == 1


# --- sending replies whose worker died --------------------------------------------------------------------------


def claimed(conversation, agent, text: str = "It left our warehouse today.", *, ago: timedelta = LONG_AGO) -> Message:
    """A reply claimed by an attempt ``ago`` (whose worker then died)."""
    message = stored_reply(conversation, agent, text=text, token=text[:60])
    reply_mark_sending(message_id=message.pk)
    age(message, send_claimed_at=timezone.now() - ago)
    return message


def test_an_interrupted_send_that_reached_x_is_recorded_with_x_s_event_id(
    x_sandbox, conversation, agent, published, django_capture_on_commit_callbacks
):
    # given a claimed reply that X accepted, and a worker that died before recording it
    message = claimed(conversation, agent)
    event_id = business_sends_at_x(x_sandbox, "It left our warehouse today.")

    # when the sweeper runs after the lease
    result = sweep(django_capture_on_commit_callbacks)

    # then the reply is sent, as X's event, and nothing went to X again
    assert (result.found, result.resent) == (1, 0)
    message.refresh_from_db()
    assert (message.delivery_state, message.x_event_id, message.send_claimed_at) == ("sent", event_id, None)
    assert sent_by_business(x_sandbox) == 1
    assert published.of("message.updated")[-1]["delivery_state"] == "sent"


def test_an_interrupted_send_that_did_not_reach_x_is_sent_again_once(
    x_sandbox, conversation, agent, django_capture_on_commit_callbacks
):
    message = claimed(conversation, agent)

    result = sweep(django_capture_on_commit_callbacks)

    assert (result.found, result.resent) == (0, 1)
    message.refresh_from_db()
    assert message.delivery_state == "sent" and message.error_detail == ""
    assert texts_at_x(x_sandbox) == {"It left our warehouse today.": 1}


def test_a_not_found_reply_is_queued_with_the_reason_and_its_task_enqueued(
    x_sandbox, conversation, agent, enqueued, django_capture_on_commit_callbacks
):
    message = claimed(conversation, agent)
    age(message, send_unconfirmed_since=timezone.now() - LONG_AGO)  # its POST was leaving when the worker died

    assert sweep(django_capture_on_commit_callbacks).resent == 1

    message.refresh_from_db()
    assert (message.delivery_state, message.send_claimed_at) == ("queued", None)
    assert message.error_detail.startswith("The worker sending this reply stopped before it finished")
    assert enqueued == [{"message_id": message.pk}]
    assert message.send_unconfirmed_since is None, "X has none of its sends: its task sends without looking again"


def test_an_interrupted_send_is_found_behind_more_newer_messages_than_one_page_holds(
    x_sandbox, conversation, agent, django_capture_on_commit_callbacks
):
    # given a claimed reply X accepted, and 120 messages of the business after it, before the worker died
    message = claimed(conversation, agent)
    event_id = business_sends_at_x(x_sandbox, "It left our warehouse today.")
    for n in range(120):
        business_sends_at_x(x_sandbox, f"Newer message {n}")

    # when the sweeper runs after the lease, it reads back to the reply and finds it
    assert sweep(django_capture_on_commit_callbacks).found == 1
    message.refresh_from_db()
    assert (message.delivery_state, message.x_event_id) == ("sent", event_id)
    assert sent_by_business(x_sandbox) == 121


def test_a_match_a_same_text_reply_being_sent_may_own_is_left_to_a_task_that_looks_again(
    x_sandbox, conversation, agent, enqueued, django_capture_on_commit_callbacks
):
    # given an interrupted reply whose text X has, and another reply with that text claimed by a live attempt
    message = claimed(conversation, agent, text="Thanks!")
    business_sends_at_x(x_sandbox, "Thanks!")
    twin = stored_reply(conversation, agent, text="Thanks!", token="twin")
    reply_mark_sending(message_id=twin.pk)

    # when the sweeper runs, it cannot tell whose the message is
    assert sweep(django_capture_on_commit_callbacks).later == 1

    # so the reply goes back to the queue, with a task that looks on X first (from its creation), as a retry
    message.refresh_from_db()
    assert (message.delivery_state, message.x_event_id) == ("queued", None)
    assert enqueued == [{"message_id": message.pk, "unconfirmed_since": message.created_at.isoformat()}]
    assert sent_by_business(x_sandbox) == 1


def test_an_older_message_with_the_same_text_is_not_taken_for_the_reply(x_sandbox, conversation, agent, enqueued):
    # given the same words sent long before this reply was written
    business_sends_at_x(x_sandbox, "Thanks!")
    message = claimed(conversation, agent, text="Thanks!")
    age(message, created_at=timezone.now() + timedelta(minutes=3))  # written after, beyond the clock skew

    assert reconcile.replies_sweep().resent == 1


def test_a_send_within_its_lease_is_left_alone(x_sandbox, conversation, agent, enqueued):
    message = claimed(conversation, agent, ago=timedelta(seconds=5))

    result = reconcile.replies_sweep()

    assert (result.found, result.resent, result.later, result.failed) == (0, 0, 0, 0)
    message.refresh_from_db()
    assert message.delivery_state == "sending" and enqueued == []


def test_the_lease_outlasts_every_request_an_attempt_makes_after_renewing_its_claim(settings):
    assert reconcile.send_lease() == timedelta(seconds=5 * (3.05 + 20)) + timedelta(seconds=45)
    settings.X_READ_TIMEOUT = 60
    assert reconcile.send_lease() == timedelta(seconds=5 * 63.05 + 45)


def test_a_redelivered_task_leaves_a_sending_reply_to_the_sweeper(x_sandbox, conversation, agent):
    message = claimed(conversation, agent)

    assert tasks.reply_send.apply(args=(message.pk,)).result["outcome"] == "skipped"

    message.refresh_from_db()
    assert message.delivery_state == "sending" and sent_by_business(x_sandbox) == 0


def test_an_attempt_whose_claim_was_taken_over_stops_before_calling_x(x_sandbox, conversation, agent, monkeypatch):
    # given an attempt so slow that the sweeper takes its reply over before it reaches the POST
    message = stored_reply(conversation, agent)
    permit_take = ratelimit.permit_take

    def slow_permit(**kw: Any) -> Any:
        assert reply_claim_take_over(message_id=message.pk, claimed_before=timezone.now() + timedelta(seconds=1))
        return permit_take(**kw)

    monkeypatch.setattr(ratelimit, "permit_take", slow_permit)

    attempt = sending.reply_deliver(message_id=message.pk)

    assert attempt.outcome == "skipped" and sent_by_business(x_sandbox) == 0
    message.refresh_from_db()
    assert message.delivery_state == "sending", "the sweeper owns it now"


def test_a_claim_is_renewed_only_by_its_own_attempt(conversation, agent):
    message = stored_reply(conversation, agent)
    claim = reply_mark_sending(message_id=message.pk).send_claimed_at
    began = timezone.now()

    def renew(claimed_at):
        return reply_claim_renew(message_id=message.pk, claimed_at=claimed_at, sending_since=began)

    renewed = renew(claim)
    assert renewed is not None and renewed >= claim
    assert renew(claim) is None, "the old stamp is not the claim"
    taken = reply_claim_take_over(message_id=message.pk, claimed_before=timezone.now() + timedelta(seconds=1))
    assert taken is not None and renew(renewed) is None


def test_the_renewal_before_a_post_notes_that_the_reply_may_reach_x_unconfirmed(conversation, agent):
    # given a claimed reply whose first POST is about to leave
    message = stored_reply(conversation, agent)
    claim = reply_mark_sending(message_id=message.pk).send_claimed_at
    first = timezone.now() - timedelta(seconds=30)

    # then from the renewal on, the row says since when it may be on X, and a later renewal keeps the earliest
    renewed = reply_claim_renew(message_id=message.pk, claimed_at=claim, sending_since=first)
    assert Message.objects.get(pk=message.pk).send_unconfirmed_since == first
    renewed = reply_claim_renew(message_id=message.pk, claimed_at=renewed, sending_since=timezone.now())
    assert Message.objects.get(pk=message.pk).send_unconfirmed_since == first

    # and only the attempt holding the claim clears it (after X said it has none of them)
    assert not reply_unconfirmed_clear(message_id=message.pk, claimed_at=claim)
    assert reply_unconfirmed_clear(message_id=message.pk, claimed_at=renewed)
    assert Message.objects.get(pk=message.pk).send_unconfirmed_since is None


def test_claims_are_stamped_and_cleared_when_the_attempt_ends(conversation, agent):
    message = stored_reply(conversation, agent)

    assert reply_mark_sending(message_id=message.pk).send_claimed_at is not None
    assert reply_requeue(message_id=message.pk, detail="later").send_claimed_at is None
    assert reply_mark_sending(message_id=message.pk).send_claimed_at is not None
    assert reply_mark_failed(message_id=message.pk, detail="no").send_claimed_at is None


def test_x_not_answering_the_lookup_leaves_the_reply_for_a_later_sweep(x_sandbox, conversation, agent, enqueued):
    first = claimed(conversation, agent, text="First")
    second = claimed(conversation, agent, text="Second")
    fault(x_sandbox, "429", path=LOOKUP_PATH, method="GET", seconds=60)

    before = timezone.now()
    result = reconcile.replies_sweep()

    assert (result.later, result.found, result.resent) == (1, 0, 0), "one lookup; the inbox waits for X's reset"
    states = dict(Message.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "delivery_state"))
    assert states == {first.pk: "sending", second.pk: "sending"} and enqueued == []
    first.refresh_from_db()
    assert first.send_claimed_at >= before, "the sweeper's claim: left alone for a lease from now"


def test_an_account_that_needs_reconnecting_fails_the_reply_with_a_warning(x_sandbox, account, conversation, agent):
    message = claimed(conversation, agent)
    XAccount.objects.filter(pk=account.pk).update(status=XAccount.Status.NEEDS_RECONNECTION)

    assert reconcile.replies_sweep().failed == 1

    message.refresh_from_db()
    assert message.delivery_state == "failed" and message.error_detail.startswith("Reconnect @AcmeSupport")
    assert message.error_detail.endswith(reconcile.MAY_HAVE_REACHED)


# --- the beat task ----------------------------------------------------------------------------------------------


def test_beat_sweeps_replies_every_30_seconds(conversation, agent, enqueued, django_capture_on_commit_callbacks):
    assert django_settings.CELERY_BEAT_SCHEDULE["sweep-replies"] == {
        "task": "twitter_channel.replies_sweep",
        "schedule": 30.0,
    }
    message = stored_reply(conversation, agent)
    age(message, created_at=timezone.now() - LONG_AGO)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.replies_sweep.apply()

    assert enqueued == [{"message_id": message.pk}]
