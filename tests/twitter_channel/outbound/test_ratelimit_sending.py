"""The rate limiter in the send path (``sending.reply_deliver``), against the real X sandbox: a reply without a
permit waits for its turn and says when; X's headers and 429s hold back the account's other replies."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, Message
from inbox.services.inboxes import inbox_member_add
from inbox.services.replies import reply_create
from tests.factories import make_agent
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel.inbound.sync import account_poll
from twitter_channel.models import RatePermit, RateWaiter, XAccount
from twitter_channel.outbound import ratelimit, sending

pytestmark = pytest.mark.django_db

SEND_PATH = f"/2/dm_conversations/with/{CUSTOMER_ID}/messages"


@pytest.fixture
def conversation(x_sandbox: Sandbox, account: XAccount, django_capture_on_commit_callbacks) -> Conversation:
    x_sandbox.control("POST", "users/maria_codes/messages", {"to": "AcmeSupport", "text": "Where is my parcel?"})
    with django_capture_on_commit_callbacks(execute=True):
        assert account_poll(account_id=account.pk).complete
    return Message.objects.get(text="Where is my parcel?").conversation


@pytest.fixture
def write(conversation: Conversation, account: XAccount, django_capture_on_commit_callbacks):
    """``write(text)``: the agent's reply, stored and not sent (the test runs the attempts itself)."""
    agent = make_agent()
    inbox_member_add(inbox=account.inbox, user=agent)

    def reply(text: str) -> Message:
        with django_capture_on_commit_callbacks(execute=False):
            return reply_create(conversation_id=conversation.pk, author=agent, text=text, client_token=text)

    return reply


def limit_account(account: XAccount, dm_limits: str) -> XAccount:
    account.dm_limits = dm_limits
    account.save(update_fields=["dm_limits"])
    return account


def sent_at_x(sandbox: Sandbox) -> int:
    return sandbox.control("GET", "counters")["messages_by_sender"].get(BUSINESS_ID, 0)


def posts_made(account: XAccount) -> int:
    """Permits the account took: one right before each POST to X."""
    return RatePermit.objects.filter(budget__key=f"dm_send:user:{account.inbox.x_user_id}").count()


def clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC")


def test_a_reply_without_a_permit_waits_for_its_turn_and_says_when(x_sandbox, account, write):
    limit_account(account, "60:1")
    first, second, third = write("One."), write("Two."), write("Three.")
    before = timezone.now()
    assert sending.reply_deliver(message_id=first.pk).outcome == "sent"
    after = timezone.now()

    waits = [sending.reply_deliver(message_id=m.pk) for m in (second, third)]

    second.refresh_from_db()
    third.refresh_from_db()
    assert [w.outcome for w in waits] == ["retry", "retry"] and waits[0].failures == 0
    assert (second.delivery_state, second.send_after) == ("queued", waits[0].retry_at)
    assert second.error_detail == f"Goes out at {clock(waits[0].retry_at)} (rate limit: 1 per 1 minute used)."
    # the third waits a window (+ the 2 s margin) more, behind the second
    assert (waits[1].retry_at - waits[0].retry_at).total_seconds() == 62
    assert third.error_detail == (
        f"Goes out at {clock(waits[1].retry_at)} (rate limit: 1 per 1 minute used; 1 earlier reply goes first)."
    )
    # the second's turn: a window (+ the margin) after the first's permit, taken between before and after
    assert before + timedelta(seconds=62) <= waits[0].retry_at <= after + timedelta(seconds=62)
    assert sent_at_x(x_sandbox) == 1 and posts_made(account) == 1


def test_a_waiting_reply_is_sent_at_its_turn_and_leaves_the_line(x_sandbox, account, write, settings):
    settings.X_DM_LIMIT_MARGIN = "0"
    limit_account(account, "3:1")
    first, second = write("One."), write("Two.")
    sending.reply_deliver(message_id=first.pk)
    wait = sending.reply_deliver(message_id=second.pk)
    assert wait.outcome == "retry" and RateWaiter.objects.filter(ticket=f"reply:{second.pk}").exists()

    time.sleep(max((wait.retry_at - timezone.now()).total_seconds(), 0) + 0.05)
    attempt = sending.reply_deliver(message_id=second.pk)

    assert attempt.outcome == "sent"
    assert not RateWaiter.objects.exists()
    assert sent_at_x(x_sandbox) == 2


def test_a_reply_deleted_while_in_line_gives_up_its_place_when_its_task_comes(x_sandbox, account, write):
    limit_account(account, "60:1")
    first, second = write("One."), write("Two.")
    sending.reply_deliver(message_id=first.pk)
    sending.reply_deliver(message_id=second.pk)
    assert RateWaiter.objects.filter(ticket=f"reply:{second.pk}").exists()
    Message.objects.filter(pk=second.pk).delete()

    assert sending.reply_deliver(message_id=second.pk).outcome == "skipped"

    assert not RateWaiter.objects.exists()


def test_a_turn_less_than_a_second_away_is_waited_for_in_the_worker(x_sandbox, account, write, settings):
    settings.X_DM_LIMIT_MARGIN = "0"
    limit_account(account, "1:1")
    first, second = write("One."), write("Two.")
    sending.reply_deliver(message_id=first.pk)
    started = time.monotonic()

    attempt = sending.reply_deliver(message_id=second.pk)

    assert attempt.outcome == "sent"  # no retry through the broker
    assert time.monotonic() - started > 0.3  # it did wait for the turn (a busy machine only waits longer)
    assert sent_at_x(x_sandbox) == 2


def test_inline_tasks_cannot_wait_so_a_reply_over_the_budget_fails_with_when_to_send_it(
    account, conversation, django_capture_on_commit_callbacks
):
    limit_account(account, "60:1")
    agent = make_agent()
    inbox_member_add(inbox=account.inbox, user=agent)

    def reply(text: str) -> Message:
        with django_capture_on_commit_callbacks(execute=True):  # the task runs inline, as in the quick start
            message = reply_create(conversation_id=conversation.pk, author=agent, text=text, client_token=text)
        message.refresh_from_db()
        return message

    assert reply("One.").delivery_state == "sent"
    second = reply("Two.")

    assert second.delivery_state == "failed"
    assert second.error_detail.startswith("The rate limit for @AcmeSupport is used up until ")
    assert second.error_detail.endswith(" (rate limit: 1 per 1 minute used); send the reply again then.")
    assert not RateWaiter.objects.exists()  # nobody will come back for it


def test_x_s_rate_limit_headers_are_recorded_after_each_send(x_sandbox, account, write):
    sending.reply_deliver(message_id=write("One.").pk)
    sending.reply_deliver(message_id=write("Two.").pk)

    reported = {r.family: (r.limit, r.left) for r in ratelimit.budget(account=account).x_reported}

    # the sandbox's launch figures, as X sent them with the second answer
    assert reported == {
        "x-rate-limit": (200, 198),
        "x-user-limit-24hour": (1000, 998),
        "x-app-limit-24hour": (15000, 14998),
    }


def test_x_saying_none_remain_holds_the_next_reply_without_calling_x(x_sandbox, account, write):
    # X allows one send a minute; our own limits (the defaults) would allow more
    x_sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "user", "windows": [[60, 1]]})
    before = timezone.now()
    assert sending.reply_deliver(message_id=write("One.").pk).outcome == "sent"
    after = timezone.now()
    second = write("Two.")

    attempt = sending.reply_deliver(message_id=second.pk)

    second.refresh_from_db()
    assert attempt.outcome == "retry" and second.delivery_state == "queued"
    assert "(X reports none left of 1 until its reset (x-rate-limit))." in second.error_detail
    # X's reset (whole seconds) of the window its first request opened, between before and after
    assert before + timedelta(seconds=59) <= attempt.retry_at <= after + timedelta(seconds=62)
    assert posts_made(account) == 1 and sent_at_x(x_sandbox) == 1


def test_a_429_pauses_the_account_so_its_other_replies_wait_without_calling_x(x_sandbox, account, write):
    first, second = write("One."), write("Two.")
    x_sandbox.control("POST", "faults", {"kind": "429", "method": "POST", "path": SEND_PATH, "count": 1,
                                         "seconds": 120})  # fmt: skip

    before = timezone.now()
    refused = sending.reply_deliver(message_id=first.pk)
    after = timezone.now()
    held = sending.reply_deliver(message_id=second.pk)

    second.refresh_from_db()
    assert (refused.outcome, held.outcome) == ("retry", "retry")
    assert held.retry_at == refused.retry_at == ratelimit.budget(account=account).paused_until
    assert before + timedelta(seconds=119) <= held.retry_at <= after + timedelta(seconds=122)  # X's 120 s
    assert second.error_detail == f"Goes out at {clock(held.retry_at)} (X answered 429 Too Many Requests)."
    # the second never reached X: had it, the fault (one request) was used up and it would have been sent
    assert posts_made(account) == 1 and sent_at_x(x_sandbox) == 0
