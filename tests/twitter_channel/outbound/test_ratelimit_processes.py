"""The rate limiter shared by processes (not threads: only the database is shared), on PostgreSQL.

A process started later (a restarted worker) sees the budget the others used; processes taking permits at
the same moment never put more than a window's limit into any span of that window (+ margin).
"""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.celery_worker import _database_url
from tests.factories import make_inbox
from tests.twitter_channel.outbound.ratelimit_process import budget_then_permit, take_permits
from twitter_channel.models import RatePermit, XAccount
from twitter_channel.outbound import ratelimit

pytestmark = pytest.mark.django_db(transaction=True)

PROCESSES = 8


@pytest.fixture(autouse=True)
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("These tests need PostgreSQL shared by several processes: set DATABASE_URL=postgres://…")


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a process on this test database, with these settings."""
    return {"DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _database_url(), "DATABASE_POOL_MAX_SIZE": "0",
            **extra}  # fmt: skip


def make_account(dm_limits: str) -> XAccount:
    now = timezone.now()
    return XAccount.objects.create(inbox=make_inbox(), status_changed_at=now, connected_at=now, dm_limits=dm_limits)


def test_a_new_process_sees_the_budget_the_earlier_ones_used(settings):
    # given two permits taken here, of 2 per hour
    settings.X_DM_LIMIT_MARGIN = "2"
    account = make_account("3600:2")
    assert all(isinstance(ratelimit.permit_take(account=account), ratelimit.Granted) for _ in range(2))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()

    # when a fresh process (a restarted worker) asks
    child = context.Process(target=budget_then_permit, args=(process_env(), account.pk, results))
    child.start()
    outcome = results.get(timeout=60)
    child.join(30)

    # then it sees both permits, and gets none
    assert outcome[0] == "ok", outcome
    _, windows, answer, reason = outcome
    assert windows[0] == (2, 2)
    assert (answer, reason) == ("Wait", "rate limit: 2 per 1 hour used")


def test_processes_taking_permits_at_once_never_exceed_any_window():
    # given 5 per second and 12 per 3 seconds per account, a 0.2 s margin, and 8 processes sending as it
    account = make_account("1:5,3:12")
    margin = 0.2
    seconds = 4.0
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    env = process_env(X_DM_LIMIT_MARGIN=str(margin))
    children = [
        context.Process(target=take_permits, args=(env, account.pk, f"p{n}", seconds, barrier, results))
        for n in range(PROCESSES)
    ]

    # when they all take permits as fast as they are given, for 4 seconds
    for child in children:
        child.start()
    outcomes = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(30)

    # then no span of a window (+ margin) holds more than its limit, on the database's clock
    assert all(o[0] == "ok" for o in outcomes), outcomes
    granted = sorted(
        RatePermit.objects.filter(budget__key=f"dm_send:user:{account.inbox.x_user_id}").values_list("at", flat=True)
    )
    assert len(granted) == sum(o[1] for o in outcomes)
    for window, limit in ((1, 5), (3, 12)):
        hold = timedelta(seconds=window + margin)
        tightest = min(granted[i + limit] - granted[i] for i in range(len(granted) - limit))
        assert tightest >= hold, f"{limit + 1} permits within {tightest} (window {window} s + margin)"
    # and the budget was used: 12 per 3.2 s over about 4 s, the line sharing it out
    assert len(granted) >= 15, len(granted)
    assert sum(o[2] for o in outcomes) > 0  # some waited
    assert all(o[1] > 0 for o in outcomes), "the line gives every process its turn"
    print(f"\n{len(granted)} permits in {seconds:g} s to {PROCESSES} processes: {[o[1] for o in outcomes]}")
