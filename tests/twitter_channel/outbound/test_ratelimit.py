"""The rate limiter of DM sends (``twitter_channel/outbound/ratelimit.py``): its windows, X's word, pauses, the line of
waiting replies, per-account limits and the settings. The limiter's clock is replaced by one the test moves."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone

from tests.factories import make_inbox
from twitter_channel.models import RateBudget, RatePermit, RateWaiter, XAccount
from twitter_channel.outbound import ratelimit
from twitter_channel.outbound.rate_windows import window_label, windows_parse
from twitter_channel.x.rate_limits import RateLimit, RateWindow

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        """``seconds`` after T0; moves the clock there."""
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ratelimit, "_now", fake)
    return fake


@pytest.fixture(autouse=True)
def limits(settings) -> None:
    """3 per 10 seconds per account, a margin of 1 s, and an app limit out of the way unless a test sets one."""
    settings.X_DM_LIMITS_USER = "10:3"
    settings.X_DM_LIMITS_APP = "86400:15000"
    settings.X_DM_LIMIT_MARGIN = "1"


def make_account(dm_limits: str = "") -> XAccount:
    now = timezone.now()
    return XAccount.objects.create(inbox=make_inbox(), status_changed_at=now, connected_at=now, dm_limits=dm_limits)


def take(account: XAccount, clock: Clock, at: float, ticket: str = "") -> ratelimit.Granted | ratelimit.Wait:
    clock.at(at)
    return ratelimit.permit_take(account=account, ticket=ticket)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- windows ----------------------------------------------------------------------------------------------------


def test_a_window_grants_its_limit_then_waits_until_the_oldest_permit_frees_plus_the_margin(clock):
    account = make_account()

    answers = [take(account, clock, t) for t in (0, 1, 2, 3)]

    assert [type(a).__name__ for a in answers] == ["Granted", "Granted", "Granted", "Wait"]
    assert answers[0].at == s(0)
    assert answers[3] == ratelimit.Wait(until=s(11), reason="rate limit: 3 per 10 seconds used")
    # the permit of 0 s counts until 10 s + the 1 s margin, not a moment less
    assert isinstance(take(account, clock, 10.999), ratelimit.Wait)
    assert isinstance(take(account, clock, 11), ratelimit.Granted)
    assert take(account, clock, 11.5).until == s(12)  # the next frees a second later


def test_several_windows_count_every_permit_and_the_longest_wait_decides(clock, settings):
    settings.X_DM_LIMITS_USER = "10:3,60:5"
    account = make_account()
    assert all(isinstance(take(account, clock, t), ratelimit.Granted) for t in (0, 0, 0))

    assert take(account, clock, 5) == ratelimit.Wait(until=s(11), reason="rate limit: 3 per 10 seconds used")
    assert all(isinstance(take(account, clock, 11), ratelimit.Granted) for _ in range(2))
    # 5 in the minute: the 10-second window has room again at 22 s, the minute only at 61 s
    assert take(account, clock, 30) == ratelimit.Wait(until=s(61), reason="rate limit: 5 per 1 minute used")
    assert isinstance(take(account, clock, 61), ratelimit.Granted)


def test_the_app_window_is_shared_by_every_account(clock, settings):
    settings.X_DM_LIMITS_APP = "60:4"
    first, second = make_account(), make_account()
    for account in (first, first, first, second):
        assert isinstance(take(account, clock, 0), ratelimit.Granted)

    for account in (first, second):
        assert take(account, clock, 1) == ratelimit.Wait(
            until=s(61), reason="the X app's rate limit: 4 per 1 minute used"
        )


def test_each_account_may_have_its_own_lower_limits(clock):
    low, default = make_account(dm_limits="10:1"), make_account()

    assert [type(take(low, clock, 0)).__name__ for _ in range(2)] == ["Granted", "Wait"]
    assert [type(take(default, clock, 0)).__name__ for _ in range(4)] == ["Granted"] * 3 + ["Wait"]
    assert take(low, clock, 1).reason == "rate limit: 1 per 10 seconds used"


# --- what X says ------------------------------------------------------------------------------------------------


def headers(*, remaining: int, reset: float, limit: int = 15, **families: RateWindow) -> RateLimit:
    return RateLimit(limit=limit, remaining=remaining, reset_at=s(reset), **families)


def test_x_saying_none_remain_stops_permits_until_its_reset(clock, settings):
    settings.X_DM_LIMITS_USER = "900:200"
    account, other = make_account(), make_account()
    permit = take(account, clock, 0)

    ratelimit.observe(account=account, rate_limit=headers(remaining=0, reset=100), permit=permit)

    # X's resets are whole seconds: one more to be sure
    assert take(account, clock, 5) == ratelimit.Wait(
        until=s(101), reason="X reports none left of 15 until its reset (x-rate-limit)"
    )
    assert isinstance(take(other, clock, 5), ratelimit.Granted)  # another account's window
    assert isinstance(take(account, clock, 101), ratelimit.Granted)


def test_x_s_remaining_caps_the_permits_granted_after_that_request(clock, settings):
    settings.X_DM_LIMITS_USER = "900:200"
    account = make_account()
    first = take(account, clock, 0)
    in_flight = take(account, clock, 1)  # granted before X answered the first request

    ratelimit.observe(account=account, rate_limit=headers(remaining=2, reset=60), permit=first)

    # X had 2 left after the first: the one in flight and one more
    assert isinstance(take(account, clock, 2), ratelimit.Granted)
    assert take(account, clock, 3).until == s(61)
    ratelimit.observe(account=account, rate_limit=headers(remaining=1, reset=60), permit=in_flight)
    assert take(account, clock, 4).until == s(61)  # the later answer, counted from its own request


def test_an_answer_to_an_earlier_request_does_not_replace_a_later_one(clock, settings):
    settings.X_DM_LIMITS_USER = "900:200"
    account = make_account()
    earlier, later = take(account, clock, 0), take(account, clock, 1)

    ratelimit.observe(account=account, rate_limit=headers(remaining=0, reset=60), permit=later)
    ratelimit.observe(account=account, rate_limit=headers(remaining=13, reset=60), permit=earlier)

    assert take(account, clock, 2).until == s(61)


def test_the_24_hour_families_hold_back_the_account_or_the_whole_app(clock, settings):
    settings.X_DM_LIMITS_USER = "900:200"
    account, other = make_account(), make_account()
    day_left = RateWindow(limit=1000, remaining=0, reset_at=s(3600))
    permit = take(account, clock, 0)

    ratelimit.observe(account=account, rate_limit=headers(remaining=14, reset=900, user_24h=day_left), permit=permit)
    assert take(account, clock, 1).reason == "X reports none left of 1,000 until its reset (x-user-limit-24hour)"
    assert isinstance(take(other, clock, 1), ratelimit.Granted)

    app_left = RateWindow(limit=15000, remaining=0, reset_at=s(7200))
    ratelimit.observe(account=other, rate_limit=headers(remaining=14, reset=900, app_24h=app_left), permit=permit)
    assert take(other, clock, 2) == ratelimit.Wait(
        until=s(7201), reason="X reports none left of 15,000 until its reset (x-app-limit-24hour)"
    )


def test_answers_without_rate_limit_headers_change_nothing(clock):
    account = make_account()
    ratelimit.observe(account=account, rate_limit=None)
    ratelimit.observe(account=account, rate_limit=RateLimit())
    assert not RateBudget.objects.exclude(x_reported={}).exists()


# --- pauses (a 429) ---------------------------------------------------------------------------------------------


def test_a_pause_holds_every_permit_of_the_account_until_then_and_a_shorter_one_does_not_shorten_it(clock):
    account, other = make_account(), make_account()
    clock.at(0)

    assert ratelimit.pause(account=account, until=s(30)) == s(31)
    assert ratelimit.pause(account=account, until=s(10)) == s(31)

    assert take(account, clock, 1) == ratelimit.Wait(until=s(31), reason="X answered 429 Too Many Requests")
    assert isinstance(take(other, clock, 1), ratelimit.Granted)
    assert isinstance(take(account, clock, 31), ratelimit.Granted)


def test_resume_lifts_the_pause_and_x_s_report_but_not_our_own_windows(clock):
    account = make_account(dm_limits="10:1")
    permit = take(account, clock, 0)
    ratelimit.observe(account=account, rate_limit=headers(remaining=0, reset=300), permit=permit)
    ratelimit.pause(account=account, until=s(300))

    ratelimit.resume(account=account)

    assert take(account, clock, 1).until == s(11)


# --- the line of waiting replies ----------------------------------------------------------------------------------


def test_waiting_replies_get_one_turn_each_in_line_and_keep_their_place(clock, settings):
    settings.X_DM_LIMITS_USER = "10:2"
    account = make_account()
    assert isinstance(take(account, clock, 0, "a"), ratelimit.Granted)
    assert isinstance(take(account, clock, 1, "b"), ratelimit.Granted)

    # each gets the next permit to free up; the line goes round again a window (+ margin) later
    waits = {t: take(account, clock, 2, t) for t in "cde"}
    assert [(w.until, w.ahead) for w in waits.values()] == [(s(11), 0), (s(12), 1), (s(22), 2)]
    assert waits["c"].reason == "rate limit: 2 per 10 seconds used"
    # a newcomer goes to the back, even when a permit is free before the line has taken it
    assert (take(account, clock, 11, "f").ahead, take(account, clock, 11, "f").until) == (3, s(23))
    # d, early, still lets c go first; c takes its turn, then d its own
    assert take(account, clock, 11, "d") == ratelimit.Wait(until=s(12), reason="rate limit: 2 per 10 seconds used",
                                                           ahead=1)  # fmt: skip
    assert isinstance(take(account, clock, 11, "c"), ratelimit.Granted)
    assert isinstance(take(account, clock, 12, "d"), ratelimit.Granted)
    assert list(RateWaiter.objects.order_by("since", "pk").values_list("ticket", flat=True)) == ["e", "f"]


def test_a_waiter_that_never_comes_back_holds_the_line_only_for_the_grace(clock, settings):
    settings.X_DM_LIMITS_USER = "10:1"
    account = make_account()
    take(account, clock, 0, "a")
    assert take(account, clock, 1, "lost").until == s(11)
    assert take(account, clock, 2, "next").until == s(22)

    grace_over = 11 + ratelimit.GRACE.total_seconds()
    assert isinstance(take(account, clock, grace_over - 1, "next"), ratelimit.Wait)
    assert isinstance(take(account, clock, grace_over + 0.001, "next"), ratelimit.Granted)


def test_a_cancelled_reply_leaves_the_line(clock, settings):
    settings.X_DM_LIMITS_USER = "10:1"
    account = make_account()
    take(account, clock, 0, "a")
    take(account, clock, 1, "cancelled")
    assert take(account, clock, 2, "next").ahead == 1

    ratelimit.wait_cancel(ticket="cancelled")

    assert take(account, clock, 2, "next") == ratelimit.Wait(until=s(11), reason="rate limit: 1 per 10 seconds used")


# --- the budget the composer shows ---------------------------------------------------------------------------------


def test_the_budget_says_what_is_left_when_it_frees_and_what_holds_it_back(clock, settings):
    settings.X_DM_LIMITS_USER = "10:3,86400:1000"
    account = make_account()
    assert ratelimit.budget(account=account).remaining == 3  # nothing recorded yet
    first = take(account, clock, 0)
    take(account, clock, 2)

    clock.at(5)
    seen = ratelimit.budget(account=account)

    assert [str(w) for w in seen.windows] == [
        "1 of 3 left this 10 seconds",
        "998 of 1,000 left this 24 hours",
        "14,998 of 15,000 left this 24 hours (whole app)",
    ]
    assert seen.windows[0].frees_at == s(11) and seen.windows[0].label == "10 seconds"
    assert (seen.remaining, seen.paused_until, seen.x_reported, seen.waiting) == (1, None, (), 0)

    take(account, clock, 5)
    assert isinstance(take(account, clock, 5, "waiting"), ratelimit.Wait)
    ratelimit.observe(account=account, rate_limit=headers(remaining=10, reset=900), permit=first)
    ratelimit.pause(account=account, until=s(60))
    clock.at(6)
    seen = ratelimit.budget(account=account)
    assert (seen.paused_until, seen.paused_reason, seen.remaining) == (s(61), "X answered 429 Too Many Requests", 0)
    assert seen.x_reported == (ratelimit.XReport(family="x-rate-limit", limit=15, left=8, reset_at=s(900)),)
    assert seen.waiting == 1


# --- storage ------------------------------------------------------------------------------------------------------


def test_permits_are_kept_for_the_longest_window_and_then_pruned(clock, monkeypatch):
    monkeypatch.setattr(ratelimit, "PRUNE_SHARE", 1.0)  # prune at every permit
    account = make_account()
    take(account, clock, 0)
    take(account, clock, 60)
    assert RatePermit.objects.count() == 4  # one for the account, one for the app, each time

    take(account, clock, ratelimit.KEEP_AT_LEAST.total_seconds() + 0.5)  # the first is older than that

    assert sorted(RatePermit.objects.values_list("at", flat=True)) == [s(60), s(60)] + [clock.now] * 2


def test_the_limiter_reads_the_database_s_clock():
    now = ratelimit._now()
    assert now.tzinfo is not None
    assert abs(now - timezone.now()) < timedelta(seconds=2)


# --- settings -----------------------------------------------------------------------------------------------------


def test_windows_are_written_as_seconds_and_limits():
    assert windows_parse("86400:1000, 900:200") == ((900, 200), (86400, 1000))
    assert windows_parse("") == ()
    assert [window_label(n) for n in (1, 5, 60, 900, 3600, 86400, 90)] == [
        "1 second", "5 seconds", "1 minute", "15 minutes", "1 hour", "24 hours", "90 seconds",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("X_DM_LIMITS_USER", "900:200,86400", "'86400' is not <seconds>:<limit>"),
        ("X_DM_LIMITS_USER", "900:2oo", "'900:2oo': seconds and limit must be whole numbers"),
        ("X_DM_LIMITS_APP", "0:5", "'0:5': a window is 1 to 604800 seconds (7 days)"),
        ("X_DM_LIMITS_APP", "60:0", "'60:0': the limit must be at least 1"),
        ("X_DM_LIMITS_USER", "60:5,60:6", "the 60-second window is given twice"),
        ("X_DM_LIMITS_USER", "60:5,,900:10", "an empty item between commas"),
        ("X_DM_LIMIT_MARGIN", "soon", "X_DM_LIMIT_MARGIN='soon' is not a number of seconds"),
        ("X_DM_LIMIT_MARGIN", "-1", "X_DM_LIMIT_MARGIN='-1': give 0 to 60 seconds"),
    ],
)
def test_malformed_settings_are_refused_with_the_variable_named(settings, clock, name, value, problem):
    setattr(settings, name, value)

    with pytest.raises(ImproperlyConfigured) as refused:
        ratelimit.permit_take(account=make_account())

    assert problem in str(refused.value)
    assert str(refused.value).startswith(name)


def test_a_process_with_malformed_limits_does_not_start():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "X_DM_LIMITS_APP": "15000"}

    run = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)

    assert run.returncode != 0
    assert "X_DM_LIMITS_APP='15000': '15000' is not <seconds>:<limit>" in run.stderr


def test_an_account_s_own_limits_are_validated():
    account = XAccount(inbox=make_inbox(), status_changed_at=timezone.now(), connected_at=timezone.now())
    account.dm_limits = "900:15,86400:1440"
    account.full_clean()

    account.dm_limits = "900:fifteen"
    with pytest.raises(ValidationError) as refused:
        account.full_clean()
    assert "dm_limits" in refused.value.message_dict


def test_an_account_whose_stored_limits_are_malformed_gets_no_permit(clock):
    account = make_account()
    XAccount.objects.filter(pk=account.pk).update(dm_limits="fifteen")
    account.refresh_from_db()

    with pytest.raises(ImproperlyConfigured, match=r"The DM limits of @brand\d+, 'fifteen'"):
        ratelimit.permit_take(account=account)
