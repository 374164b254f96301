"""Benchmark: the conversation list and thread pages at 1k and at 100k conversations.

Seeds a PostgreSQL database of its own (``BENCH_PAGES_DATABASE_URL``, default
``postgres://postgres:postgres@127.0.0.1:5432/backchannel_bench_pages``, dropped and migrated on every run;
Redis ``BENCH_PAGES_REDIS_URL``, default db 4) with set-based SQL: 3 inboxes (X accounts), 2 teams, 9 agents,
one contact per conversation, 1-31 messages per conversation (10 on average, median 7; one thread of 500),
each conversation's activity log, a few notes and the agents' read markers. It measures at 1,000
conversations (~10k messages), then grows the history to 100,000 conversations (~1M messages, about a
minute to seed) and measures again.

The shape is a support desk after a year of work. The live queue is 6% open, 2% pending and 1% snoozed of
the first 1,000 conversations (about 60 / 20 / 10: what 8 agents with a capacity of 10 carry). The 99,000
conversations added for the large size are history, all resolved and spread over the same year: the queue
is bounded by people, history is not. 70% of the live queue and 85% of history is assigned.

Every page is requested in-process with ``django.test.Client`` as an agent who is a member of all three
inboxes, with DEBUG off. Each page gets ``--warmup`` requests, then one with its queries captured (this
gives the count, and its content is checked, so a broken page cannot give a fast number), then
``--requests`` timed requests. The script prints the median and p95 wall time of ``client.get`` and the
query count at each size (with the load average: the machine is shared with everything else running on
it), then the 100k / 1k ratio per page. The thread pages are those of a conversation of 30 messages and of
the 500-message one, the same two at both sizes. ``--explain`` adds EXPLAIN ANALYZE of the pages' queries
at the large size.

    python bench/inbox_page.py [--requests 30] [--warmup 3] [--small 1000] [--large 100000] [--explain]

Target: the list pages (open, mine, resolved) and the thread pages make the same number of queries at both
sizes and take at most 1.5x as long at 100k as at 1k. The counts fragment and search are informational.
The exit status is non-zero if a page answers with anything but 200 or without its expected content.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import harness  # noqa: E402
from bench.inbox_seed import (  # noqa: E402
    LONG_THREAD_MESSAGES,
    LONG_THREAD_N,
    SEARCH_NAME,
    SEARCH_WORD,
    TYPICAL_THREAD_MESSAGES,
    Desk,
    pick_threads,
    prepare,
    seed,
)

DATABASE_URL = os.environ.get(
    "BENCH_PAGES_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/backchannel_bench_pages"
)
REDIS_URL = os.environ.get("BENCH_PAGES_REDIS_URL", "redis://127.0.0.1:6379/4")

TARGET_RATIO = 1.5
EXPLAIN_PLAN_ABOVE_MS = 5.0  # --explain prints a page's slowest plan in full when it takes this long


def pages_env() -> dict[str, str]:
    env = harness.bench_env(database_url=DATABASE_URL, redis_url=REDIS_URL)
    env["DJANGO_ALLOWED_HOSTS"] += ",testserver"  # django.test.Client's host
    return env


def collect_static(root: str) -> None:
    """With DEBUG off, pages name static files through collectstatic's manifest, as in production.
    Collect into ``root`` rather than the project's ``staticfiles/``."""
    from django.core.management import call_command
    from django.test.utils import override_settings

    override_settings(STATIC_ROOT=root).enable()
    call_command("collectstatic", interactive=False, verbosity=0)


def label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


@dataclass
class Page:
    key: str
    target: bool
    url: str | None  # None: the URL does not exist yet
    include: list[str] = field(default_factory=list)  # regular expressions the body must match
    exclude: list[str] = field(default_factory=list)  # ... and must not


@dataclass
class Result:
    key: str
    size: int
    target: bool
    median_ms: float = 0.0
    p95_ms: float = 0.0
    queries: int = 0
    error: str = ""
    missing: bool = False
    answered: bool = False  # 200 to every request so far
    sql: list[str] = field(default_factory=list)


def _url(name: str, *args: object, query: str = "") -> str | None:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name, args=args) + query
    except NoReverseMatch:
        return None


def _marker(conversation) -> str:
    """A pattern that finds a conversation's row or link in a page."""
    marker = f'data-conversation-id="{conversation.pk}"'
    url = _url("inbox:conversation", conversation.pk)
    return f"(?:{re.escape(marker)}|{re.escape(url)}(?![0-9]))" if url else re.escape(marker)


def _name(conversation) -> str:
    from django.utils.html import escape

    return re.escape(escape(conversation.contact.display_name))


def pages(desk: Desk) -> list[Page]:
    """The pages and what each must show: its newest conversation, and not the newest one of another view."""
    from django.utils.html import escape

    from inbox.models import Conversation

    newest = Conversation.objects.select_related("contact").order_by("-last_message_at", "-pk")
    open_ = newest.filter(status="open")
    me = desk.bench_agent
    first = {
        "open": open_.first(),
        "mine": open_.filter(assignee=me).first(),
        "not mine": open_.exclude(assignee=me).first(),
        "resolved": newest.filter(status="resolved").first(),
        "name": newest.filter(contact__name__icontains=SEARCH_NAME).first(),
        "text": newest.filter(messages__text__icontains=desk.thread_order_no).first(),
        "word": newest.filter(messages__text__icontains=SEARCH_WORD).first(),
    }
    if None in first.values():
        lacking = [key for key, conversation in first.items() if conversation is None]
        raise SystemExit(f"The data set has no conversation for {lacking}: use a larger --small.")
    open_count = open_.count()

    def listing(key: str, query: str, shown: str, hidden: str | None, *, target: bool = True) -> Page:
        exclude = [_marker(first[hidden])] if hidden else []
        return Page(key, target, _url("inbox:home", query=query), [_marker(first[shown]), _name(first[shown])], exclude)

    def thread(key: str, pk: int) -> Page:
        conversation = Conversation.objects.select_related("contact").get(pk=pk)
        last = conversation.messages.order_by("-occurred_at", "-x_sequence").first()
        return Page(key, True, _url("inbox:conversation", pk), [_name(conversation), re.escape(escape(last.text))])

    return [
        listing("list open", "?view=open", "open", "resolved"),
        listing("list mine", "?view=mine", "mine", "not mine"),
        listing("list resolved", "?view=resolved", "resolved", "open"),
        thread(f"thread {TYPICAL_THREAD_MESSAGES} msgs", desk.thread_pk),
        thread(f"thread {LONG_THREAD_MESSAGES} msgs", desk.long_thread_pk),
        Page("counts", False, _url("inbox:counts"), [rf"(?<![0-9]){open_count}(?![0-9])"]),
        listing("search name", f"?view=all&q={SEARCH_NAME}", "name", None, target=False),
        listing("search order no", f"?view=all&q={desk.thread_order_no}", "text", None, target=False),
        listing("search word", f"?view=all&q={SEARCH_WORD}", "word", None, target=False),
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def check(client, page: Page, size: int, *, warmup: int) -> Result:
    """Warm the page up, then request it once with its queries captured and its content checked."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    result = Result(page.key, size, page.target)
    if page.url is None:
        result.missing = True
        return result
    for _ in range(warmup):
        response = client.get(page.url)
        if response.status_code != 200:
            result.error = f"{page.url} answered {response.status_code}"
            return result
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page.url)
    result.queries = len(captured.captured_queries)
    result.sql = [query["sql"] for query in captured.captured_queries]
    if response.status_code != 200:
        result.error = f"{page.url} answered {response.status_code}"
        return result
    result.answered = True
    body = response.content.decode()
    missing = [pattern for pattern in page.include if not re.search(pattern, body)]
    unexpected = [pattern for pattern in page.exclude if re.search(pattern, body)]
    if missing or unexpected:
        result.error = f"{page.url}: content check failed; missing {missing}, should not show {unexpected}"
    return result


def time_pages(client, measured: list[tuple[Page, Result]], *, requests: int) -> None:
    """``requests`` rounds over the pages, so that a burst of load elsewhere on the machine hits them all alike."""
    timed = [(page, result) for page, result in measured if result.answered]
    timings: dict[str, list[float]] = {page.key: [] for page, _ in timed}
    gc.collect()
    for _ in range(requests):
        for page, result in timed:
            if not result.answered:  # it failed in an earlier round
                continue
            started = time.perf_counter()
            try:
                status = client.get(page.url).status_code
            except Exception as exc:  # the view raised: report it with the other pages rather than stop
                status, result.error = None, f"{page.url} raised {exc!r}"
            timings[page.key].append((time.perf_counter() - started) * 1000)
            if status != 200:
                result.answered = False
                result.error = result.error or f"{page.url} answered {status}"
    for page, result in timed:
        if result.answered:
            result.median_ms = statistics.median(timings[page.key])
            result.p95_ms = percentile(timings[page.key], 95)


def describe(desk: Desk) -> str:
    from django.db.models import Count

    from inbox.models import Conversation, Message

    statuses = dict(Conversation.objects.values_list("status").annotate(n=Count("pk")).order_by())
    mine = Conversation.objects.filter(status="open", assignee=desk.bench_agent).count()
    return (
        f"{sum(statuses.values()):,} conversations ({', '.join(f'{s} {n:,}' for s, n in sorted(statuses.items()))}; "
        f"mine {mine}), {Message.objects.count():,} messages"
    )


def run_pages(desk: Desk, size: int, *, warmup: int, requests: int) -> list[Result]:
    from django.test import Client

    client = Client()
    client.force_login(desk.bench_agent)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{label(size)}: {describe(desk)}; load average {load} on {os.cpu_count()} CPUs", flush=True)
    measured = []
    for page in pages(desk):
        try:
            measured.append((page, check(client, page, size, warmup=warmup)))
        except Exception as exc:  # the view raised: report it with the other pages rather than stop
            measured.append((page, Result(page.key, size, page.target, error=f"{page.url} raised {exc!r}")))
    time_pages(client, measured, requests=requests)
    results = []
    for page, result in measured:
        results.append(result)
        if result.missing:
            print(f"  {page.key:<18} not available yet (its URL name does not resolve)", flush=True)
        elif result.error and not result.median_ms:
            print(f"  {page.key:<18} FAILED: {result.error}", flush=True)
        else:
            print(
                f"  {page.key:<18} median {result.median_ms:7.1f} ms  p95 {result.p95_ms:7.1f} ms  "
                f"{result.queries:3d} queries  {page.url}",
                flush=True,
            )
            if result.error:
                print(f"  {'':<18} FAILED: {result.error}", flush=True)
    return results


def explain(desk: Desk, results: list[Result]) -> None:
    """EXPLAIN ANALYZE of every SELECT the measured pages ran."""
    from django.db import connection

    for result in results:
        selects = [sql for sql in result.sql if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
        if not selects:
            continue
        print(f"\n{result.key} at {label(result.size)}: {len(selects)} SELECTs")
        plans = []
        with connection.cursor() as cursor:
            for sql in selects:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                text = "\n".join(row[0] for row in cursor.fetchall())
                ms = float(re.search(r"Execution Time: ([0-9.]+) ms", text).group(1))
                scans = sorted(
                    set(re.findall(r"(?:Seq Scan on \S+|(?:Index|Index Only|Bitmap Index) Scan using \S+)", text))
                )
                plans.append((ms, sql, text))
                print(f"  {ms:8.2f} ms  {'; '.join(scans) or '-'}  | {sql[:100]}")
        ms, sql, text = max(plans)
        if ms >= EXPLAIN_PLAN_ABOVE_MS:
            print(f"  the slowest ({ms:.2f} ms):\n    {sql}\n    " + text.replace("\n", "\n    "))


def report(results: dict[int, list[Result]], small: int, large: int) -> None:
    print(f"\n{'page':<20}{'size':>6}{'median ms':>11}{'p95 ms':>9}{'queries':>9}")
    for size in (small, large):
        for result in results[size]:
            if result.missing:
                print(f"{result.key:<20}{label(size):>6}   not available yet")
            elif result.error and not result.median_ms:
                print(f"{result.key:<20}{label(size):>6}   FAILED")
            else:
                flag = "  (content check failed)" if result.error else ""
                print(
                    f"{result.key:<20}{label(size):>6}{result.median_ms:>11.1f}{result.p95_ms:>9.1f}"
                    f"{result.queries:>9}{flag}"
                )
    ratio = f"{label(large)}/{label(small)}"
    print(f"\n{'page':<20}{ratio:>10}  {'queries':<16}target (<= {TARGET_RATIO}x, same queries)")
    for before, after in zip(results[small], results[large], strict=True):
        if before.missing or after.missing or not before.median_ms or not after.median_ms:
            print(f"{before.key:<20}{'-':>10}")
            continue
        ratio = after.median_ms / before.median_ms
        same = before.queries == after.queries
        queries = f"{'equal' if same else 'DIFFER'} ({before.queries}/{after.queries})"
        if not before.target:
            verdict = "informational"
        else:
            verdict = "met" if ratio <= TARGET_RATIO and same else "NOT met"
        print(f"{before.key:<20}{ratio:>9.2f}x  {queries:<16}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page and size")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--small", type=int, default=1_000, help="conversations at the first measurement")
    parser.add_argument("--large", type=int, default=100_000, help="conversations at the second measurement")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the pages' queries at the large size")
    args = parser.parse_args()
    if not LONG_THREAD_N < args.small < args.large:
        parser.error(f"need {LONG_THREAD_N} < --small < --large")

    env = pages_env()
    started = time.perf_counter()
    harness.recreate_database(env)
    database = DATABASE_URL.rsplit("/", 1)[-1]
    print(f"database {database} recreated and migrated in {time.perf_counter() - started:.1f} s", flush=True)
    harness.django_setup(env)
    desk = prepare()

    results: dict[int, list[Result]] = {}
    seeded = 0
    with tempfile.TemporaryDirectory(prefix="bench-pages-static-") as static_root:
        collect_static(static_root)
        for size in (args.small, args.large):
            seed(desk, seeded, size, small=args.small)
            seeded = size
            if not desk.thread_pk:
                pick_threads(desk)
            results[size] = run_pages(desk, size, warmup=args.warmup, requests=args.requests)
        if args.explain:
            explain(desk, results[args.large])
    report(results, args.small, args.large)
    failed = [r for rs in results.values() for r in rs if r.error]
    for result in failed:
        print(f"FAILED {result.key} at {label(result.size)}: {result.error}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
