"""The global rate limiter of DM sends: per X account and per X app, several windows at once, obeying X.

Every send takes a permit first (``permit_take``): ``Granted`` (call X now) or ``Wait(until, reason)``.
The budgets are X's (x-api.md §5): each X account (the sending user) has its windows, by default
``X_DM_LIMITS_USER`` = 200 per 15 minutes and 1,000 per 24 hours, or its own ``XAccount.dm_limits``
(today's tiers are lower); the whole app has ``X_DM_LIMITS_APP`` = 15,000 per 24 hours. A permit
counts in every window of both budgets. On top of our own count it obeys what X says
(``observe``, after every answer): X's ``x-rate-limit-*``, ``x-user-limit-24hour-*`` and
``x-app-limit-24hour-*`` headers cap the permits granted after that answer's request at X's
``remaining`` until X's ``reset`` (so ``remaining: 0`` means no permit until the reset), and a 429
``pause``-s the account until X's reset: every reply of that account waits, not only the refused one.

Storage: PostgreSQL (the app's database), not Redis. Each budget is a ``RateBudget`` row locked with
``SELECT … FOR UPDATE`` for the length of one decision, and every permit granted is a ``RatePermit``
row, so each window is a sliding window counted over the log (``COUNT(*) … WHERE at > now - window``).
Why the database:

- it is shared by every process and host and survives restarts with nothing else to run, and it is
  the one store every mode has (SQLite in the unit tests without DATABASE_URL, no Redis): one code path
  everywhere, and those tests exercise the production logic (the Redis Lua script weighed in docs/ecosystem.md §3 counts
  windows as well, but would need a second path without Redis);
- a decision reads the account's pause, X's reported headers, the line of waiting replies and several
  windows, then writes: one transaction under one row lock, in plain ORM code the tests can read,
  where a Redis script would have to carry all of it in Lua;
- the time comes from the database (``clock_timestamp()``, read after the lock), one clock for every
  host, as Redis's ``TIME`` would be;
- the cost is nothing at this rate: X allows at most a few hundred sends per account per 15 minutes,
  and a permit is about seven short queries on indexed rows (one aggregate per budget for all its
  windows); the benchmark's 4 workers are held back by X's limit, never by the lock.

The windows and X's. X counts fixed windows that start at the first request it receives, and a
request reaches X some time after our permit (the commit, the HTTP round trip). So a permit is held
for its window plus ``X_DM_LIMIT_MARGIN`` (default 2 s): then at most ``limit`` permits fall in any
span of ``window + margin``, and however X's windows are placed, no window of X's receives more than
``limit`` requests as long as a request arrives within the margin of its permit. The price is
utilisation: at most ``window / (window + margin)`` of X's budget is used when the queue never empties,
99.8% of a 15-minute window, 99.998% of a 24-hour one, 96.8% of a 60-second window (the benchmark)
and 71% of a 5-second one (so scaled-down tests shrink the margin with the window). X gives its
resets in whole seconds, so after X's ``remaining: 0`` we wait a second past the reset it states: that
may hold a window up to a second longer, which the default margin already covers.

Waiting replies stand in line. A refused permit with a ``ticket`` (``reply:<message id>``) records a
``RateWaiter`` and gets the time its turn comes: the permits still in the window free up one by one,
and the n-th reply in line gets the n-th (the line goes round again a window later). The reply's task
sleeps until then (a Celery ``eta``) instead of every waiting reply waking at each freed permit, and
the composer can show when each queued reply goes out. A newcomer gets a permit only while more are
free than replies wait before it. A waiter that does not come back within ``GRACE`` of its turn (its
task was lost, its reply deleted) stops holding up the line. With several windows the estimate is the
latest of the windows' estimates; it is only an estimate, the check at the permit is exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from twitter_channel.models import RateBudget, RatePermit, RateWaiter, XAccount
from twitter_channel.outbound.rate_windows import (
    Window,
    dm_limits_validator,
    setting_margin,
    setting_windows,
    window_label,
    windows_parse,
)
from twitter_channel.x.rate_limits import RateLimit, RateWindow

__all__ = [
    "Budget", "Granted", "Wait", "account_dm_limits_set", "budget", "observe", "pause", "permit_take", "resume",
    "wait_cancel",
]  # fmt: skip

APP_KEY = "dm_send:app"
# How long past its turn a waiting request keeps its place before the line moves on without it.
GRACE = timedelta(seconds=30)
# X's resets are whole seconds (rounded down) on X's clock: wait a second more.
X_RESET_CUSHION = timedelta(seconds=1)
# Permits are kept at least this long (or their longest window), so a longer window set later counts them.
KEEP_AT_LEAST = timedelta(days=1, minutes=1)
# Old permits and waiters are deleted after this share of the permits granted (it costs a few queries).
PRUNE_SHARE = 0.05
MIN_WAIT = timedelta(milliseconds=10)
DEFAULT_PAUSE_REASON = "X answered 429 Too Many Requests"
# X's header families (x-api.md §5) and whose budget each describes.
FAMILIES = {"x-rate-limit": "user", "x-user-limit-24hour": "user", "x-app-limit-24hour": "app"}


@dataclass(frozen=True)
class Granted:
    """Call X now. ``at``: the permit's time (the database's clock); give it to ``observe`` with X's answer."""

    at: datetime
    ticket: str = ""


@dataclass(frozen=True)
class Wait:
    """No permit before ``until``; ``reason`` says which limit (``"rate limit: 200 per 15 minutes used"``).

    ``ahead``: how many requests of the account wait before this one.
    """

    until: datetime
    reason: str
    ahead: int = 0


@dataclass(frozen=True)
class WindowUse:
    """One window of a budget now: ``used`` of ``limit``; ``frees_at``: when its oldest permit stops counting."""

    scope: str  # "account" or "app"
    seconds: int
    limit: int
    used: int
    frees_at: datetime | None

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def label(self) -> str:
        return window_label(self.seconds)

    def __str__(self) -> str:
        whose = "" if self.scope == "account" else " (whole app)"
        return f"{self.remaining:,} of {self.limit:,} left this {self.label}{whose}"


@dataclass(frozen=True)
class XReport:
    """What X's last answer said of one header family, still in force: ``left`` of ``limit`` until ``reset_at``."""

    family: str
    limit: int | None
    left: int
    reset_at: datetime


@dataclass(frozen=True)
class Budget:
    """An account's sending budget now, for the composer: ``str(budget.windows[0])`` → "187 of 200 left …"."""

    windows: tuple[WindowUse, ...]
    paused_until: datetime | None
    paused_reason: str
    x_reported: tuple[XReport, ...]
    waiting: int

    @property
    def remaining(self) -> int:
        """Sends possible now: the least of every window's and X's ``left``; 0 while paused."""
        if self.paused_until is not None:
            return 0
        counts = [w.remaining for w in self.windows] + [r.left for r in self.x_reported]
        return max(min(counts), 0) if counts else 1_000_000


@dataclass(frozen=True)
class _Rule:
    budget: RateBudget
    scope: str
    seconds: int
    limit: int
    hold: timedelta

    @property
    def reason(self) -> str:
        if self.scope == "app":
            return f"the X app's rate limit: {self.limit:,} per {window_label(self.seconds)} used"
        return f"rate limit: {self.limit:,} per {window_label(self.seconds)} used"


# --- the API ---------------------------------------------------------------------------------------------------


def permit_take(*, account: XAccount, ticket: str = "") -> Granted | Wait:
    """Take a permit to send one DM as ``account``, or learn until when to wait.

    Granted when neither the account nor the app is paused or held back by X's headers, and every
    window of both budgets has more permits free than requests of the account wait before this one.
    ``ticket`` names the request (``reply:<message id>``): a refused one takes a place in the account's
    line (a ``RateWaiter``) and keeps it when it comes back; a granted one leaves the line. Changes:
    a ``RatePermit`` per budget, the waiter row; now and then (``PRUNE_SHARE``) deletes permits older than
    every window. Locks the app's ``RateBudget`` row, then the account's, until the decision commits.
    Raises ``ImproperlyConfigured`` for malformed limits.
    """
    with transaction.atomic():
        app, user = _locked(account)
        now = _now()
        rules = _rules(account, app, user)
        ahead, in_line = _place(user, ticket, now)
        counts = _counts((app, user), rules, now)
        blocks = _blocks((app, user), now, counts)
        if not blocks and all(counts[rule] + ahead < rule.limit for rule in rules):
            RatePermit.objects.bulk_create([RatePermit(budget=b, at=now, ticket=ticket) for b in (app, user)])
            if in_line:
                RateWaiter.objects.filter(budget=user, ticket=ticket).delete()
            if random.random() < PRUNE_SHARE:
                _prune((app, user), rules, now)
            return Granted(at=now, ticket=ticket)
        until, reason = _turn(rules, now, blocks, position=ahead + 1)
        until = max(until, now + MIN_WAIT)
        if ticket:
            RateWaiter.objects.update_or_create(
                budget=user, ticket=ticket, defaults={"slot": until}, create_defaults={"since": now, "slot": until}
            )
        return Wait(until=until, reason=reason, ahead=ahead)


def observe(*, account: XAccount, rate_limit: RateLimit | None, permit: Granted | None = None) -> None:
    """Record X's rate-limit headers from its answer to the request made with ``permit``.

    For each header family present (limit, remaining, reset), later permits of its budget (the
    account's, or the app's for ``x-app-limit-24hour``) are capped at X's ``remaining`` until its
    reset. A report about a later permit is not replaced by one about an earlier permit. Without
    ``permit``, the report counts from now. Changes ``RateBudget.x_reported``; locks both budget rows.
    """
    if rate_limit is None:
        return
    windows = {
        "x-rate-limit": RateWindow(rate_limit.limit, rate_limit.remaining, rate_limit.reset_at),
        "x-user-limit-24hour": rate_limit.user_24h,
        "x-app-limit-24hour": rate_limit.app_24h,
    }
    usable = {f: w for f, w in windows.items() if w is not None and w.remaining is not None and w.reset_at}
    if not usable:
        return
    with transaction.atomic():
        app, user = _locked(account)
        now = _now()
        after = permit.at if permit is not None else now
        changed: dict[str, RateBudget] = {}
        for family, window in usable.items():
            budget = user if FAMILIES[family] == "user" else app
            assert window.reset_at is not None  # usable keeps the windows with a reset only
            old = budget.x_reported.get(family)
            if old and _time(old["after"]) > after and _time(old["reset"]) + X_RESET_CUSHION > now:
                continue  # X's answer to a later request already said more
            budget.x_reported[family] = {"remaining": window.remaining, "limit": window.limit,
                                         "reset": window.reset_at.isoformat(), "after": after.isoformat()}  # fmt: skip
            changed[budget.key] = budget
        for budget in changed.values():
            budget.save(update_fields=["x_reported"])


def pause(*, account: XAccount, until: datetime, reason: str = DEFAULT_PAUSE_REASON) -> datetime:
    """Give ``account`` no permit before ``until`` (X's reset after a 429, plus a second); return the pause's end.

    A longer pause in force is kept. Changes the account's ``RateBudget``; locks both budget rows.
    """
    until = until + X_RESET_CUSHION
    with transaction.atomic():
        _, user = _locked(account)
        if user.paused_until is None or until > user.paused_until:
            user.paused_until, user.paused_reason = until, reason[:300]
            user.save(update_fields=["paused_until", "paused_reason"])
        return user.paused_until


def resume(*, account: XAccount) -> None:
    """Let ``account`` send again now: forget its pause and what X reported of its own windows (an operator's
    override, when X's reset is known to have passed). Our own windows still count. Locks both budget rows."""
    with transaction.atomic():
        _, user = _locked(account)
        user.paused_until, user.paused_reason, user.x_reported = None, "", {}
        user.save(update_fields=["paused_until", "paused_reason", "x_reported"])


def wait_cancel(*, ticket: str) -> None:
    """Take ``ticket`` (unique: ``reply:<message id>``) out of its line: its reply was undone or deleted."""
    RateWaiter.objects.filter(ticket=ticket).delete()


def budget(*, account: XAccount) -> Budget:
    """The account's budget now: each window's use, its pause, X's reports in force, how many wait. No locks."""
    rows = {b.key: b for b in RateBudget.objects.filter(key__in=(APP_KEY, _user_key(account)))}
    app = rows.get(APP_KEY) or RateBudget(key=APP_KEY)
    user = rows.get(_user_key(account)) or RateBudget(key=_user_key(account))
    now = _now()
    windows = []
    for rule in _rules(account, app, user):
        used, oldest = 0, None
        if rule.budget.pk is not None:
            in_window = RatePermit.objects.filter(budget=rule.budget, at__gt=now - rule.hold)
            used = in_window.count()
            oldest = in_window.order_by("at").values_list("at", flat=True).first()
        frees_at = oldest + rule.hold if oldest is not None else None
        windows.append(WindowUse(scope=rule.scope, seconds=rule.seconds, limit=rule.limit, used=used,
                                 frees_at=frees_at))  # fmt: skip
    reports = []
    for b in (user, app):
        for family, report in b.x_reported.items():
            reset = _time(report["reset"])
            if reset + X_RESET_CUSHION > now and b.pk is not None:
                since = RatePermit.objects.filter(budget=b, at__gt=_time(report["after"])).count()
                reports.append(XReport(family=family, limit=report.get("limit"),
                                       left=max(report["remaining"] - since, 0), reset_at=reset))  # fmt: skip
    paused = user.paused_until if user.paused_until and user.paused_until > now else None
    waiting = 0
    if user.pk is not None:
        waiting = RateWaiter.objects.filter(budget=user, slot__gt=now - GRACE).count()
    return Budget(windows=tuple(windows), paused_until=paused, paused_reason=user.paused_reason if paused else "",
                  x_reported=tuple(reports), waiting=waiting)  # fmt: skip


# --- helpers ---------------------------------------------------------------------------------------------------


def _user_key(account: XAccount) -> str:
    return f"dm_send:user:{account.inbox.x_user_id}"


def _now() -> datetime:
    """The database's clock, read now (not the transaction's start, which may be before a wait for the lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]
    return timezone.now()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _locked(account: XAccount) -> tuple[RateBudget, RateBudget]:
    """The app's and the account's budget rows, created if new, locked in key order (the app's first) until commit."""
    keys = (APP_KEY, _user_key(account))
    if connection.vendor == "sqlite":
        # SQLite ignores FOR UPDATE; a write first takes the database's write lock for the whole transaction,
        # so two threads on SQLite (unit tests) decide one after the other.
        RateBudget.objects.filter(key__in=keys).update(paused_reason=F("paused_reason"))
    # PostgreSQL locks the rows in the ORDER BY's order: every process takes them in the same order.
    locking = RateBudget.objects.select_for_update().filter(key__in=keys).order_by("key")
    rows = {row.key: row for row in locking}
    if len(rows) < len(keys):
        for key in keys:
            if key not in rows:
                RateBudget.objects.get_or_create(key=key)  # a twin creating it meanwhile is fine
        rows = {row.key: row for row in locking.all()}
    return rows[APP_KEY], rows[_user_key(account)]


def account_dm_limits_set(*, account: XAccount, dm_limits: str) -> XAccount:
    """Give ``account`` limits of its own on DM sends, ``<seconds>:<limit>`` pairs (blank: ``X_DM_LIMITS_USER``),
    counted from its next permit on. Raises ``ValidationError`` for a value that is not such pairs. Writes
    that column alone, so tokens refreshed meanwhile are not written back; publishes nothing."""
    dm_limits = dm_limits.strip()
    dm_limits_validator(dm_limits)
    account.dm_limits = dm_limits
    account.save(update_fields=["dm_limits"])
    return account


def _account_windows(account: XAccount) -> tuple[Window, ...]:
    if not account.dm_limits:
        return setting_windows("X_DM_LIMITS_USER")
    try:
        return windows_parse(account.dm_limits)
    except ValueError as exc:
        raise ImproperlyConfigured(f"The DM limits of @{account.inbox.handle}, {account.dm_limits!r}: {exc}") from None


def _rules(account: XAccount, app: RateBudget, user: RateBudget) -> list[_Rule]:
    margin = timedelta(seconds=setting_margin())
    rules = [_Rule(user, "account", s, n, timedelta(seconds=s) + margin) for s, n in _account_windows(account)]
    rules += [_Rule(app, "app", s, n, timedelta(seconds=s) + margin) for s, n in setting_windows("X_DM_LIMITS_APP")]
    return rules


def _place(user: RateBudget, ticket: str, now: datetime) -> tuple[int, bool]:
    """How many requests of the account are in line before ``ticket`` (all, if it is not in line), and if it is."""
    line = RateWaiter.objects.filter(budget=user).filter(Q(slot__gt=now - GRACE) | Q(ticket=ticket))
    tickets = list(line.order_by("since", "pk").values_list("ticket", flat=True))
    if ticket and ticket in tickets:
        return tickets.index(ticket), True
    return len(tickets), False


def _active_reports(budget: RateBudget, now: datetime) -> list[tuple[str, dict]]:
    return [(f, r) for f, r in budget.x_reported.items() if _time(r["reset"]) + X_RESET_CUSHION > now]


def _counts(budgets: tuple[RateBudget, ...], rules: list[_Rule], now: datetime) -> dict[object, int]:
    """Permits counting now: per rule (its window), and per (budget key, family) of X's reports in force
    (those granted after the reported request). One query per budget."""
    counts: dict[object, int] = {}
    for b in budgets:
        wanted: dict[str, tuple[object, datetime]] = {}
        for n, rule in enumerate(r for r in rules if r.budget.pk == b.pk):
            wanted[f"w{n}"] = (rule, now - rule.hold)
        for n, (family, report) in enumerate(_active_reports(b, now)):
            wanted[f"x{n}"] = ((b.key, family), _time(report["after"]))
        if not wanted:
            continue
        since = min(after for _, after in wanted.values())
        totals = RatePermit.objects.filter(budget=b, at__gt=since).aggregate(
            **{name: Count("pk", filter=Q(at__gt=after)) for name, (_, after) in wanted.items()}
        )
        counts.update({what: totals[name] for name, (what, _) in wanted.items()})
    return counts


def _blocks(budgets: tuple[RateBudget, ...], now: datetime, counts: dict[object, int]) -> list[tuple[datetime, str]]:
    """What stops every permit now, with its end: a pause, or X's ``remaining`` used up since its report."""
    found = []
    for b in budgets:
        if b.paused_until is not None and b.paused_until > now:
            found.append((b.paused_until, b.paused_reason or DEFAULT_PAUSE_REASON))
        for family, report in _active_reports(b, now):
            if counts[(b.key, family)] >= report["remaining"]:
                of = f" of {report['limit']:,}" if isinstance(report.get("limit"), int) else ""
                reset = _time(report["reset"]) + X_RESET_CUSHION
                found.append((reset, f"X reports none left{of} until its reset ({family})"))
    return found


def _turn(
    rules: list[_Rule], now: datetime, blocks: list[tuple[datetime, str]], *, position: int
) -> tuple[datetime, str]:
    """When the ``position``-th request in line (1 = first) can expect a permit, and which limit decides it."""
    start, reason = max(blocks, key=lambda block: block[0]) if blocks else (now, "")  # a pause before X's word
    best = (start, reason)
    for rule in rules:
        turn = _rule_turn(rule, start, position)
        if turn > best[0]:
            best = (turn, rule.reason)
    return best


def _rule_turn(rule: _Rule, start: datetime, position: int) -> datetime:
    """The ``position``-th permit of ``rule`` from ``start`` on: a free one at ``start``, then each permit in the
    window when it stops counting (oldest first), then a window later, as each request in line takes one."""
    rounds, index = divmod(position - 1, rule.limit)
    in_window = RatePermit.objects.filter(budget=rule.budget, at__gt=start - rule.hold)
    free = rule.limit - in_window.count()
    if index < free:
        first = start
    else:
        first = in_window.order_by("at", "pk").values_list("at", flat=True)[index - free] + rule.hold
    return first + rounds * rule.hold


def _prune(budgets: tuple[RateBudget, ...], rules: list[_Rule], now: datetime) -> None:
    for b in budgets:
        keep = max([r.hold for r in rules if r.budget.pk == b.pk] + [KEEP_AT_LEAST])
        RatePermit.objects.filter(budget=b, at__lt=now - keep).delete()
    RateWaiter.objects.filter(budget__in=budgets, slot__lt=now - KEEP_AT_LEAST).delete()
