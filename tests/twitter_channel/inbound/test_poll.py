"""Polling GET /2/dm_events closes the gaps the webhook leaves: every message once, in X's order, within X's limit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, Message
from inbox.selectors.access import conversation_thread
from inbox.services import ingest
from tests.factories import make_inbox
from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
from tests.twitter_channel.inbound.test_backfill import customer_writes
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID
from twitter_channel import tasks
from twitter_channel.connection.tokens import client_for
from twitter_channel.inbound import sync
from twitter_channel.inbound.ingesting import account_events_ingest
from twitter_channel.inbound.parsing.payloads import read_lookup_page
from twitter_channel.inbound.sync import account_poll
from twitter_channel.models import XAccount

pytestmark = pytest.mark.django_db
ONE_TO_ONE = f"{CUSTOMER_ID}-{BUSINESS_ID}"


@pytest.fixture(autouse=True)
def own_cache(settings) -> None:
    """A cache of this test's own: the claims ``dm_poll_due`` leaves must not leak between tests or runs."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"poll-{uuid.uuid4()}"}
    }


def list_requests(sandbox) -> int:
    """GET requests the business made to X's DM list endpoints (what X counts against its window)."""
    windows = sandbox.control("GET", "counters")["rate_windows"]
    return sum(w["count"] for w in windows if w["key"].startswith(f"user:dm_get:{BUSINESS_ID}:"))


def window_reset(sandbox) -> datetime:
    """When X's 15-minute window for the business's DM lists reopens (the x-rate-limit-reset it sends)."""
    (window,) = [
        w for w in sandbox.control("GET", "counters")["rate_windows"] if w["key"] == f"user:dm_get:{BUSINESS_ID}:900"
    ]
    started = datetime.fromisoformat(window["started_at"])
    return datetime.fromtimestamp(int((started + timedelta(seconds=900)).timestamp()), UTC)


def limit_dm_lists(sandbox, requests_per_15_min: int) -> None:
    sandbox.control(
        "POST", "rate-limits", {"endpoint": "dm_get", "scope": "user", "windows": [[900, requests_per_15_min]]}
    )


def thread_ids(account: XAccount) -> list[str]:
    conversation = Conversation.objects.get(inbox=account.inbox, x_conversation_id=ONE_TO_ONE)
    return [m.x_event_id for m in conversation_thread(conversation)]


# --- recovery ---------------------------------------------------------------------------------------------------


def test_with_the_webhook_down_the_poll_recovers_all_20_messages_once_in_xs_order(x_sandbox):
    # given: a connected account, no webhook registered at X, and a customer sending 20 DMs
    account = connect_through_sandbox(x_sandbox)
    sent = [customer_writes(x_sandbox, f"Message {n} while the webhook is down") for n in range(1, 21)]
    assert x_sandbox.control("GET", "deliveries") == [], "no webhook delivered anything"
    assert not Message.objects.filter(conversation__inbox=account.inbox).exists()

    # when
    result = account_poll(account_id=account.pk)

    # then
    assert (result.created, result.events_seen, result.complete, result.error) == (20, 20, True, "")
    assert thread_ids(account) == sent
    conversation = Conversation.objects.get(inbox=account.inbox, x_conversation_id=ONE_TO_ONE)
    assert [m.text for m in conversation_thread(conversation)] == [
        f"Message {n} while the webhook is down" for n in range(1, 21)
    ]
    assert Message.objects.filter(conversation__inbox=account.inbox).count() == 20
    account.refresh_from_db()
    assert account.last_polled_at is not None and account.last_poll_error == "" and account.poll_resume_at is None


def test_a_second_poll_stores_nothing_and_stops_at_the_first_page(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    sent = [customer_writes(x_sandbox, f"Message {n}") for n in range(1, 21)]
    account_poll(account_id=account.pk)
    requests_before = list_requests(x_sandbox)

    again = account_poll(account_id=account.pk)

    assert (again.created, again.pages) == (0, 1)
    assert list_requests(x_sandbox) - requests_before == 1
    assert thread_ids(account) == sent


def test_a_poll_after_some_messages_were_ingested_stops_where_the_stored_ones_begin(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    first = [customer_writes(x_sandbox, f"Early {n}") for n in range(1, 6)]
    account_poll(account_id=account.pk, page_size=3)
    later = [customer_writes(x_sandbox, f"Later {n}") for n in range(1, 8)]
    requests_before = list_requests(x_sandbox)

    result = account_poll(account_id=account.pk, page_size=3)

    # [L7 L6 L5] [L4 L3 L2] [L1 E5 E4]: the third page reaches stored messages; E3..E1 are not read again.
    assert (result.created, result.pages) == (7, 3)
    assert list_requests(x_sandbox) - requests_before == 3
    assert thread_ids(account) == first + later


def test_a_message_the_webhook_delivered_after_a_long_gap_does_not_end_the_poll_early(x_sandbox):
    # given: 15 messages missed, then the webhook is back and delivers the 16th
    account = connect_through_sandbox(x_sandbox)
    missed = [customer_writes(x_sandbox, f"Missed {n}") for n in range(1, 16)]
    newest = customer_writes(x_sandbox, "Delivered by the webhook")
    page = client_for(account).dm_event(newest, read=read_lookup_page)
    account_events_ingest(account=account, events=sync.page_events(page))

    # when: pages of 10 — the first holds the stored newest message and 9 missed ones
    result = account_poll(account_id=account.pk, page_size=10)

    # then: the poll read past that page and recovered the 6 missed messages on the next one
    assert result.created == 15
    assert thread_ids(account) == [*missed, newest]


# --- X's rate limit ---------------------------------------------------------------------------------------------


def test_a_poll_that_uses_up_xs_window_pauses_polling_until_xs_reset(x_sandbox, monkeypatch):
    # given: two list requests per 15 minutes at X; the poll needs both (a page, then X's empty last page)
    limit_dm_lists(x_sandbox, 2)
    account = connect_through_sandbox(x_sandbox)
    sent = [customer_writes(x_sandbox, f"Message {n}") for n in range(1, 4)]

    result = account_poll(account_id=account.pk)

    account.refresh_from_db()
    assert (result.created, result.pages) == (3, 2) and thread_ids(account) == sent
    assert account.poll_resume_at == window_reset(x_sandbox) == result.paused_until
    assert account.poll_resume_at > timezone.now() + timedelta(minutes=14)

    # dm_poll_due leaves the account alone until then, even though its last poll is long past
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.dm_poll, "delay", enqueued.append)
    XAccount.objects.filter(pk=account.pk).update(last_polled_at=timezone.now() - timedelta(hours=1))
    assert tasks.dm_poll_due() == [] and enqueued == []

    # X's reset has passed: the account is polled again
    XAccount.objects.filter(pk=account.pk).update(poll_resume_at=timezone.now() - timedelta(seconds=1))
    assert tasks.dm_poll_due() == [account.pk] and enqueued == [account.pk]


def test_a_429_sets_poll_resume_at_to_xs_reset_and_is_not_retried(x_sandbox):
    limit_dm_lists(x_sandbox, 2)
    account = connect_through_sandbox(x_sandbox)
    customer_writes(x_sandbox, "Hello")
    account_poll(account_id=account.pk)  # uses the two requests
    XAccount.objects.filter(pk=account.pk).update(poll_resume_at=None)

    outcome = tasks.dm_poll.apply(args=(account.pk,))

    assert outcome.successful() and "429" in outcome.result["error"]
    account.refresh_from_db()
    assert account.poll_resume_at == window_reset(x_sandbox)
    assert "429" in account.last_poll_error


def test_a_window_used_up_before_reaching_stored_messages_ingests_nothing_and_pauses(x_sandbox):
    # One request: the first page arrives, but the poll cannot see how far back the gap goes.
    limit_dm_lists(x_sandbox, 1)
    account = connect_through_sandbox(x_sandbox)
    for n in range(1, 4):
        customer_writes(x_sandbox, f"Message {n}")

    result = account_poll(account_id=account.pk)

    account.refresh_from_db()
    assert (result.complete, result.pages, result.created) == (False, 1, 0)
    assert not Message.objects.filter(conversation__inbox=account.inbox).exists()
    assert account.poll_resume_at == window_reset(x_sandbox)
    assert "rate limit is used up" in account.last_poll_error and account.last_polled_at is None


# --- errors -----------------------------------------------------------------------------------------------------


def test_x_failing_is_recorded_and_the_next_successful_poll_clears_it(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    customer_writes(x_sandbox, "Hello")
    x_sandbox.control("POST", "faults", {"kind": "503", "method": "GET", "path": "/2/dm_events", "count": 1})

    failed = account_poll(account_id=account.pk)

    account.refresh_from_db()
    assert failed.complete is False and "503" in failed.error
    assert "503" in account.last_poll_error and account.last_polled_at is None and account.poll_resume_at is None

    recovered = account_poll(account_id=account.pk)

    account.refresh_from_db()
    assert recovered.created == 1 and account.last_poll_error == "" and account.last_polled_at is not None


def test_an_account_that_needs_reconnecting_is_not_polled_nor_retried(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    XAccount.objects.filter(pk=account.pk).update(status=XAccount.Status.NEEDS_RECONNECTION)
    requests_before = list_requests(x_sandbox)

    outcome = tasks.dm_poll.apply(args=(account.pk,))

    assert outcome.successful() and "needs reconnection" in outcome.result["error"]
    assert list_requests(x_sandbox) == requests_before
    account.refresh_from_db()
    assert "needs reconnection" in account.last_poll_error


# --- which accounts beat polls ----------------------------------------------------------------------------------


def make_account(status: str = XAccount.Status.CONNECTED, **fields) -> XAccount:
    now = timezone.now()
    return XAccount.objects.create(inbox=make_inbox(), status=status, status_changed_at=now, connected_at=now, **fields)


def test_dm_poll_due_enqueues_only_connected_accounts_due_for_a_poll(settings, monkeypatch):
    settings.X_POLL_INTERVAL = 120
    now = timezone.now()
    never_polled = make_account()
    polled_long_ago = make_account(last_polled_at=now - timedelta(seconds=121))
    pause_over = make_account(last_polled_at=now - timedelta(hours=1), poll_resume_at=now - timedelta(seconds=1))
    make_account(last_polled_at=now - timedelta(seconds=30))  # polled recently
    make_account(last_polled_at=now - timedelta(hours=1), poll_resume_at=now + timedelta(minutes=5))  # paused by X
    make_account(status=XAccount.Status.NEEDS_RECONNECTION)
    make_account(status=XAccount.Status.DISCONNECTED, last_polled_at=now - timedelta(days=1))
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.dm_poll, "delay", enqueued.append)

    first = tasks.dm_poll_due()
    again = tasks.dm_poll_due()  # 15 s later at beat: the polls are still queued (or X is down)

    due = [never_polled.pk, polled_long_ago.pk, pause_over.pk]
    assert sorted(first) == sorted(due) and sorted(enqueued) == sorted(due)
    assert again == [] and len(enqueued) == 3


def test_dm_poll_due_polls_through_the_task_in_eager_mode(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    customer_writes(x_sandbox, "Anyone there?")

    assert tasks.dm_poll_due() == [account.pk]

    assert Message.objects.filter(conversation__inbox=account.inbox, text="Anyone there?").count() == 1


def test_a_dm_that_cannot_be_stored_is_left_out_and_named_and_the_poll_stores_the_rest(x_sandbox, monkeypatch):
    # given three DMs the webhook missed, the second of which the database would refuse (a value longer than
    # its column, say: X sends nothing of the kind today, so the check is told so for this one event)
    account = connect_through_sandbox(x_sandbox)
    first, bad, third = (customer_writes(x_sandbox, f"Message {n}") for n in range(1, 4))
    real = ingest.event_problem

    def event_problem(*, inbox, event):
        return "message.text: too long to store" if event.x_event_id == bad else real(inbox=inbox, event=event)

    monkeypatch.setattr(ingest, "event_problem", event_problem)

    # when the poll reads them
    result = account_poll(account_id=account.pk)

    # then the other two are stored, the poll counts as done, and the health page can say what was left out
    assert (result.created, result.complete) == (2, True)
    assert thread_ids(account) == [first, third]
    account.refresh_from_db()
    assert account.last_polled_at is not None
    assert account.last_poll_error == (
        f"Left out 1 event(s) X sent that cannot be stored: event {bad}: message.text: too long to store"
    )
