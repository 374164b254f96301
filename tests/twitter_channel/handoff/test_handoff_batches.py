"""Bulk generation of handoff links: the pasted list or CSV read line by line (bad lines kept with their
error), templates checked, long replies shortened within 280, a job that is safe to run twice, live
progress at a bounded rate, a CSV safe to open in a spreadsheet, the pages' permissions, and one batch
run by a real Celery worker whose progress reaches the manager's websocket."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from accounts.models import User
from tests.twitter_channel.handoff.handoff_batch_fixtures import (
    FakeClock,
    connected_account,
    make_batch,
    posts,
    read_csv,
    social_manager_of,
)
from twitter_channel.handoff import batches as handoff_batches
from twitter_channel.handoff.batches import (
    CHUNK_ROWS,
    MAX_ROWS,
    PROGRESS_EVENT,
    csv_cell,
    handoff_batch_csv,
    handoff_batch_input_parse,
    handoff_batch_run,
    handoff_reply_personalise,
)
from twitter_channel.handoff.deeplinks import dm_link_parse
from twitter_channel.handoff.links import HandoffError
from twitter_channel.handoff.post_length import post_length
from twitter_channel.models import HandoffBatch, HandoffLink, XAccount
from twitter_channel.tasks import HandoffBatchGaveUp, handoff_batch_generate

pytestmark = pytest.mark.django_db


@pytest.fixture
def account() -> XAccount:
    return connected_account()


@pytest.fixture
def manager(account: XAccount) -> User:
    return social_manager_of(account)


# Reading the list ------------------------------------------------------------------------------------


def parsed(text: str) -> list[tuple]:
    return [(row["line"], row["post_id"], row["author"], row["error"]) for row in handoff_batch_input_parse(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "https://x.com/ana/status/11\n\n  \nhttps://twitter.com/ben_b/status/12?s=20\n",
            [(1, "11", "ana", ""), (4, "12", "ben_b", "")],
            id="addresses, blank lines skipped, line numbers kept",
        ),
        pytest.param(
            "11, @ana\n12,ben\n13",
            [(1, "11", "ana", ""), (2, "12", "ben", ""), (3, "13", "", "")],
            id="ids with handles, with or without @, comma",
        ),  # fmt: skip
        pytest.param("11;@ana\n12 ; ben", [(1, "11", "ana", ""), (2, "12", "ben", "")], id="semicolons"),
        pytest.param("11\t@ana\n12\tben\n", [(1, "11", "ana", ""), (2, "12", "ben", "")], id="tabs"),
        pytest.param(
            "Post URL,Author\nhttps://x.com/ana/status/11,ana\n12,@ben\n",
            [(2, "11", "ana", ""), (3, "12", "ben", "")],
            id="CSV with a header",
        ),
        pytest.param(
            '\ufeffhandle;text;tweet_id\n@ana;"Where is it; seriously";11\nben;hi;12\n',
            [(2, "11", "ana", ""), (3, "12", "ben", "")],
            id="header names the columns in any order, quoted cells, BOM",
        ),
        pytest.param(
            "11,user\n12,author",
            [(1, "11", "user", ""), (2, "12", "author", "")],
            id="a first row with a post is data even if a handle looks like a column name",
        ),  # fmt: skip
        pytest.param(
            "handle\nana",
            [
                (
                    2,
                    "",
                    "",
                    "Not a post: 'ana'. Paste the post's address (https://x.com/<handle>/status/<id>) or its id.",
                )
            ],
            id="a header without a post column",
        ),
        pytest.param("https://x.com/ana/status/11, bob", [(1, "11", "ana", "")], id="the address's author wins"),
        pytest.param("https://x.com/i/web/status/11, bob", [(1, "11", "bob", "")], id="i/web: the column's"),
    ],
)
def test_the_list_is_read_line_by_line(text, expected):
    assert parsed(text) == expected


def test_bad_lines_are_kept_with_their_error_and_the_rest_goes_on():
    text = "\n".join(
        [
            "11, ana",
            "https://example.com/ana/status/12",
            ", ana",
            "13, ana-b",
            "https://x.com/cleo/status/11",
            '=HYPERLINK("http://evil")',
            "14, dev",
        ]
    )

    rows = handoff_batch_input_parse(text)

    assert [row["line"] for row in rows] == [1, 2, 3, 4, 5, 6, 7]
    errors = {row["line"]: row["error"] for row in rows}
    assert errors[1] == errors[7] == ""
    assert errors[2].startswith("Not a post: 'https://example.com/ana/status/12'. Paste the post's address")
    assert errors[3] == "No post on this line: add the post's address or id."
    assert errors[4] == "Not an X handle: 'ana-b' (letters, digits and _, at most 15)."
    assert errors[5] == "The same post as line 1: one reply per post."
    assert errors[6].startswith("Not a post:")
    assert rows[5]["post"] == '=HYPERLINK("http://evil")'


def test_a_list_over_the_limit_is_refused_whole_with_the_limit():
    assert len(handoff_batch_input_parse("id,author\n" + posts(MAX_ROWS))) == MAX_ROWS
    with pytest.raises(HandoffError, match="more than 1,000 posts; one batch takes at most 1,000"):
        handoff_batch_input_parse(posts(MAX_ROWS + 1))


# Templates -------------------------------------------------------------------------------------------


def test_a_reply_that_cannot_fit_even_for_a_one_letter_handle_is_refused_with_the_count(account, manager):
    template = "{author} " + "a" * 254  # "@a " + 254 + " " + 23 = 281
    with pytest.raises(HandoffError, match=r"with its link it is 281 characters as X counts them, 1 over"):
        make_batch(account, manager, "11, ana", reply_template=template)
    batch = make_batch(account, manager, "11, ana", reply_template=template[:-1])
    assert batch.reply_template == template[:-1] and batch.status == "queued" and batch.total == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reply_template": "Hi {handle}!"}, r"Unknown placeholder \{handle\} in the public reply: the only one is"),
        ({"prefill_template": "Hi {name}"}, r"Unknown placeholder \{name\} in the DM text"),
        ({"reply_template": "   "}, "Write the public reply"),
        ({"prefill_template": "a\x00b"}, "The text the customer finds in the DM: "),
        ({"campaign": "c" * 101}, "at most 100 characters"),
    ],
)
def test_templates_are_checked(account, manager, fields, message):
    with pytest.raises(HandoffError, match=message):
        make_batch(account, manager, "11, ana", **fields)


def test_an_empty_list_is_refused_and_a_post_without_author_is_a_row_error_when_the_reply_names_it(account, manager):
    with pytest.raises(HandoffError, match="The list is empty"):
        make_batch(account, manager, "\n \n")

    named = make_batch(account, manager, "11\n12, ben")
    unnamed = make_batch(account, manager, "11", reply_template="DM us, we'll sort it out.", prefill_template="")

    assert [row["error"] for row in named.rows] == [
        "No author handle: the templates use {author}; add the handle after the post id.",
        "",
    ]
    assert unnamed.rows[0]["error"] == ""


def test_line_breaks_from_a_browser_textarea_become_plain_new_lines(account, manager):
    batch = make_batch(account, manager, "11, ana", reply_template="Hi {author}\r\nDM us", prefill_template="a\r\nb")
    assert (batch.reply_template, batch.prefill_template) == ("Hi {author}\nDM us", "a\nb")


# Shortening ------------------------------------------------------------------------------------------


def with_link(reply: str) -> int:
    return post_length(f"{reply} https://twitter.com/messages/compose?recipient_id=783214&text=Ref%20ABCD2").weighted


def test_a_reply_that_fits_is_not_touched():
    assert handoff_reply_personalise("Sorry {author}, DM us!", "ana") == ("Sorry @ana, DM us!", False)


def test_a_long_handle_shortens_the_templates_text_at_a_word_with_an_ellipsis_and_keeps_the_handle():
    template = "Sorry {author}! " + " ".join(["word"] * 48)  # fits with "@a", not with 15 letters

    reply, shortened = handoff_reply_personalise(template, "abcdefghijklmno")

    assert shortened
    assert reply.startswith("Sorry @abcdefghijklmno! word word") and reply.endswith("word…")
    assert with_link(reply) <= 280
    assert with_link(reply.removesuffix("…") + " word…") > 280  # nothing more would have fitted


def test_a_handle_after_the_cut_follows_the_ellipsis():
    template = ("We are sorry about the delay. " * 9)[:240].strip() + " Thanks {author}"

    reply, shortened = handoff_reply_personalise(template, "abcdefghijklmno")

    assert shortened and reply.startswith("We are sorry") and reply.endswith("… @abcdefghijklmno")
    assert reply.count("@") == 1
    assert with_link(reply) <= 280


@pytest.mark.parametrize("filler", ["a", "界", "🙏", "é", "👩‍👩‍👧", "word ", "x.com/y "])
@pytest.mark.parametrize("length", [100, 128, 131, 140, 250])
def test_shortened_replies_always_fit_280_as_x_counts_them(filler, length):
    template = "{author} " + filler * length + " {author}"
    try:
        reply, shortened = handoff_reply_personalise(template, "abcdefghijklmno")
    except HandoffError as exc:
        assert "Too long for X even shortened" in str(exc)
        return
    assert with_link(reply) <= 280
    assert reply.count("@abcdefghijklmno") == 2
    assert shortened == (with_link(template.replace("{author}", "@abcdefghijklmno")) > 280)


# Running a batch -------------------------------------------------------------------------------------


def test_a_batch_makes_one_link_per_good_row_and_stores_each_outcome(
    account, manager, django_capture_on_commit_callbacks
):
    text = "post,author\nhttps://x.com/ana/status/11\n12, @ben\nnot a post\n"
    with django_capture_on_commit_callbacks(execute=True):  # the task runs inline after commit
        batch = make_batch(account, manager, text, reply_template="Sorry {author}!", prefill_template="Hi {author}")

    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.total, batch.error) == ("done", 3, 3, "")
    assert batch.finished_at is not None
    ana, ben, bad = batch.rows
    link = HandoffLink.objects.get(pk=ana["link_id"])
    assert (link.batch, link.post_id, link.post_author, link.campaign, link.created_by) == (
        batch, "11", "ana", "Spring delays", manager
    )  # fmt: skip
    assert link.reply_text == "Sorry @ana!" and ana["public_reply"] == f"Sorry @ana! {ana['url']}"
    assert dm_link_parse(ana["url"]).text == f"Hi @ana\nRef {link.ref_code}"
    assert (ana["ref_code"], ana["shortened"], ana["error"]) == (link.ref_code, False, "")
    assert ben["author"] == "ben" and HandoffLink.objects.get(pk=ben["link_id"]).post_author == "ben"
    assert bad["done"] and bad["error"].startswith("Not a post") and "link_id" not in bad
    assert HandoffLink.objects.filter(batch=batch).count() == 2


def test_running_twice_makes_no_second_link(account, manager):
    batch = make_batch(account, manager, posts(30))
    handoff_batch_run(batch_id=batch.pk)
    first = HandoffBatch.objects.get(pk=batch.pk).rows

    handoff_batch_run(batch_id=batch.pk)

    assert HandoffBatch.objects.get(pk=batch.pk).rows == first
    assert HandoffLink.objects.filter(batch=batch).count() == 30


def test_a_run_that_dies_in_a_chunk_keeps_committed_rows_and_the_rerun_makes_each_link_once(
    account, manager, monkeypatch
):
    batch = make_batch(account, manager, posts(45))
    FakeClock(monkeypatch, step=0)
    made = handoff_batches.handoff_link_create
    calls = 0

    def dies_at_the_30th(**kwargs):  # noqa: ANN003, ANN202
        nonlocal calls
        calls += 1
        if calls == 30:
            raise RuntimeError("worker lost")
        return made(**kwargs)

    monkeypatch.setattr(handoff_batches, "handoff_link_create", dies_at_the_30th)
    with pytest.raises(RuntimeError):
        handoff_batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.processed) == ("running", CHUNK_ROWS)  # the second chunk rolled back whole
    assert HandoffLink.objects.filter(batch=batch).count() == CHUNK_ROWS

    handoff_batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    links = HandoffLink.objects.filter(batch=batch)
    assert (batch.status, batch.processed, links.count()) == ("done", 45, 45)
    assert sorted(links.values_list("pk", flat=True)) == sorted(row["link_id"] for row in batch.rows)
    assert links.values("post_id").distinct().count() == 45


def test_a_failing_task_marks_the_batch_failed_and_says_so(
    account, manager, monkeypatch, published, django_capture_on_commit_callbacks
):
    batch = make_batch(account, manager, posts(3))

    def broken(**kwargs):  # noqa: ANN003, ANN202
        raise RuntimeError("boom")

    monkeypatch.setattr(handoff_batches, "handoff_link_create", broken)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        handoff_batch_generate.delay(batch.pk)

    batch.refresh_from_db()
    assert batch.status == "failed" and "Generation stopped (RuntimeError)" in batch.error
    assert published.of(PROGRESS_EVENT) == [{"batch_id": batch.pk, "processed": 0, "total": 3, "status": "failed"}]


def test_a_database_still_failing_on_the_last_attempt_marks_the_batch_failed(
    account, manager, monkeypatch, published, django_capture_on_commit_callbacks
):
    batch = make_batch(account, manager, posts(3))

    def broken(**kwargs):  # noqa: ANN003, ANN202
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(handoff_batches, "handoff_link_create", broken)
    last = handoff_batch_generate.max_retries
    with pytest.raises(HandoffBatchGaveUp), django_capture_on_commit_callbacks(execute=True):
        handoff_batch_generate.apply(args=(batch.pk,), retries=last)

    batch.refresh_from_db()
    assert (batch.status, batch.error) == ("failed", "The database did not answer; try a new batch.")
    assert published.of(PROGRESS_EVENT) == [{"batch_id": batch.pk, "processed": 0, "total": 3, "status": "failed"}]


# Progress events -------------------------------------------------------------------------------------


def test_progress_is_published_to_the_creator_after_commit_at_most_every_tenth_of_a_second(
    account, manager, monkeypatch, published, django_capture_on_commit_callbacks
):
    clock = FakeClock(monkeypatch, step=0.04)  # a link every 40 ms: a chunk and an event every 3 links
    batch = make_batch(account, manager, posts(45))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        handoff_batch_run(batch_id=batch.pk)
    assert published.sent == []  # nothing before the commit
    for callback in callbacks:
        callback()

    events = published.of(PROGRESS_EVENT)
    assert {group for group, _ in published.sent} == {f"agent.{manager.pk}"}
    assert [e["processed"] for e in events] == list(range(3, 46, 3))
    assert [e["status"] for e in events] == ["running"] * 14 + ["done"]
    assert all(e["batch_id"] == batch.pk and e["total"] == 45 for e in events)
    assert clock.now - 1000.0 == pytest.approx(45 * 0.04)


def test_fast_rows_are_not_published_more_than_ten_times_a_second(
    account, manager, monkeypatch, published, django_capture_on_commit_callbacks
):
    FakeClock(monkeypatch, step=0)  # rows take no time: chunks of CHUNK_ROWS, one event, then the last
    batch = make_batch(account, manager, posts(45))

    with django_capture_on_commit_callbacks(execute=True):
        handoff_batch_run(batch_id=batch.pk)

    assert [(e["processed"], e["status"]) for e in published.of(PROGRESS_EVENT)] == [(20, "running"), (45, "done")]


# The CSV ---------------------------------------------------------------------------------------------


def test_the_csv_has_a_row_per_line_and_cells_that_spreadsheets_take_as_text(account, manager):
    text = "\n".join(["11, ana", "=1+1", "-2", "+3", "@SUM(1)", "12, ben"])
    batch = make_batch(account, manager, text, reply_template="{author} sorry! =) DM us")
    handoff_batch_run(batch_id=batch.pk)
    batch.refresh_from_db()

    rows = read_csv(handoff_batch_csv(batch))

    assert list(rows[0]) == ["line", "post", "author", "public_reply", "link", "ref_code", "shortened", "error"]
    assert [row["line"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    ana = rows[0]
    link = HandoffLink.objects.get(ref_code=ana["ref_code"])
    assert ana["post"] == "https://x.com/ana/status/11" and ana["author"] == "ana"
    assert ana["public_reply"] == f"'@ana sorry! =) DM us {ana['link']}"  # starts with @: prefixed
    assert ana["link"].startswith("https://twitter.com/messages/compose?recipient_id=783214&text=")
    assert (ana["ref_code"], ana["shortened"], ana["error"]) == (link.ref_code, "no", "")
    assert [row["post"] for row in rows[1:5]] == ["'=1+1", "'-2", "'+3", "'@SUM(1)"]
    assert all(row["error"].startswith("Not a post") and row["link"] == "" for row in rows[1:5])


@pytest.mark.parametrize(
    ("value", "safe"),
    [("=cmd", "'=cmd"), ("+1", "'+1"), ("-1", "'-1"), ("@a", "'@a"), ("\tx", "'\tx"), ("\r=1", "'\r=1"),
     ("＝1", "'＝1"), ("ana", "ana"), ("_ana", "_ana"), ("", ""), ("a=1", "a=1")],
)  # fmt: skip
def test_csv_cells_that_a_spreadsheet_would_run_are_prefixed(value, safe):
    assert csv_cell(value) == safe
