"""Bulk generation of "Send a private message" links (issue 9, item 4): a pasted list or CSV of public
posts in, one personalised public reply with its own link per post out, as a Celery job with live
progress, downloaded as CSV.

Decisions:

- **Input.** One post per line: the post's address or id, then optionally the author's handle (with or
  without ``@``), separated by ``,``, ``;`` or a tab (the first of tab, ``;``, ``,`` found in the input
  is the separator for all of it). A first line that names its columns (``post``/``url``/``id``…,
  ``author``/``handle``…) is a header, and its names say which column is which; other columns are
  ignored. The author in a post's address wins over the handle column. A bad line is kept with its
  error (the batch goes on); the same post twice is an error on the second line.
- **Templates.** ``{author}`` is the only placeholder, in the public reply and in the DM text; it
  becomes ``@handle``. Any other ``{word}`` is refused, so a typo such as ``{handle}`` is not posted.
- **Shortening.** A personalised reply that does not fit 280 with its link (a long handle) loses the
  end of the template's own text, at a word boundary when one is near, and gets ``…``; handles are never
  cut: a ``{author}`` after the cut follows the ``…``. The row says ``shortened``.
- **Work and progress.** ``handoff_batch_run`` generates rows in chunks (``CHUNK_ROWS`` rows or
  ``PROGRESS_INTERVAL`` of work, whichever comes first), each chunk one transaction holding the batch's
  row lock: its links and the rows' outcomes commit together, so a retried or duplicated task skips
  committed rows and never makes a second link for a row. After a commit, ``handoff.batch.progress`` goes
  to the creator when ``PROGRESS_INTERVAL`` has passed since the previous event, and always at the end:
  at most about 10 events a second however fast rows are made.
- **CSV.** Every cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or their
  full-width forms) is prefixed with ``'`` so that spreadsheet apps take it as text, not a formula. Handles
  start with a letter, digit or ``_`` and never need it; a reply that starts with ``{author}`` does
  (``'@ana Sorry…``): the apostrophe is not part of the reply. The post column holds the post's address
  (an id alone would be rounded by spreadsheets); the file starts with a UTF-8 BOM for Excel.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import regex
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from inbox.realtime import HANDOFF_BATCH_PROGRESS_EVENT, publish_handoff_batch_progress
from twitter_channel.handoff.deeplinks import DeepLinkError, DmLink, dm_link_build
from twitter_channel.handoff.links import (
    HandoffError,
    handoff_link_create,
    handoff_link_url,
    handoff_prefill,
    handoff_public_reply,
    post_reference_parse,
    reply_fits,
)
from twitter_channel.handoff.post_length import MAX_WEIGHTED_LENGTH
from twitter_channel.models import HandoffBatch, HandoffLink, XAccount
from twitter_channel.task_names import HANDOFF_BATCH_GENERATE, task

MAX_ROWS = 1_000
MAX_INPUT_CHARS = 1_000_000
PREFILL_MAX_LENGTH = 1_000
CHUNK_ROWS = 20
PROGRESS_INTERVAL = 0.1  # seconds: at most ~10 progress events a second
PROGRESS_EVENT = HANDOFF_BATCH_PROGRESS_EVENT
AUTHOR = "{author}"
CSV_COLUMNS = ("line", "post", "author", "public_reply", "link", "ref_code", "shortened", "error")

_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_PLACEHOLDER = re.compile(r"\{([^{}\s]{0,40})\}")
_POST_HEADERS = frozenset(
    {"post", "posts", "post url", "post id", "url", "link", "id", "tweet", "tweet url", "tweet id", "status",
     "status id", "address", "post address"}
)  # fmt: skip
_AUTHOR_HEADERS = frozenset(
    {"author", "handle", "author handle", "user", "username", "user name", "screen name", "account", "from"}
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_ELLIPSIS = "…"
_WORD_BACKOFF = 20  # graphemes: how far back a cut may move to end on a word boundary

_clock: Callable[[], float] = time.monotonic  # tests replace it to control the progress rate


# Input ------------------------------------------------------------------------------------------------


def handoff_batch_input_parse(text: str) -> list[dict[str, Any]]:
    """The rows of a pasted list or CSV text: ``{"line", "post", "post_id", "author", "error"}`` each,
    ``line`` being the line it starts on (1-based, blank lines and a header counted). Blank lines are
    skipped; a bad line is kept with its ``error``. Raises ``HandoffError`` past ``MAX_ROWS`` rows."""
    if len(text) > MAX_INPUT_CHARS:
        raise HandoffError(f"The list is over {MAX_INPUT_CHARS:,} characters; split it into several batches.")
    lines = text.removeprefix("\ufeff").splitlines()
    reader = csv.reader(lines, delimiter=_delimiter(lines), skipinitialspace=True)
    columns: tuple[int, int] | None = None
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue
            if columns is None:
                columns = _header_columns(cells)
                if columns is not None:
                    continue
                columns = (0, 1)
            if len(rows) == MAX_ROWS:
                raise HandoffError(
                    f"The list has more than {MAX_ROWS:,} posts; one batch takes at most {MAX_ROWS:,}. "
                    "Split it into several batches."
                )
            rows.append(_row(line, cells, columns, seen))
    except csv.Error as exc:
        raise HandoffError(f"Line {start}: this is not CSV as expected ({exc}).") from exc
    return rows


def _delimiter(lines: list[str]) -> str:
    for candidate in ("\t", ";", ","):
        if any(candidate in line for line in lines):
            return candidate
    return ","


def _header_name(cell: str) -> str:
    return " ".join(cell.lower().lstrip("@").replace("_", " ").replace("-", " ").split())


def _header_columns(cells: list[str]) -> tuple[int, int] | None:
    """``(post column, author column)`` if ``cells`` is a header row, else None. -1: no author column."""
    if any(_is_post(cell) for cell in cells):
        return None  # a data row, even if a handle in it is called "user"
    names = [_header_name(cell) for cell in cells]
    post = next((i for i, name in enumerate(names) if name in _POST_HEADERS), None)
    author = next((i for i, name in enumerate(names) if name in _AUTHOR_HEADERS), None)
    if post is None and author is None:
        return None
    if post is None:
        post = next((i for i in range(len(cells)) if i != author), 0)
    return post, -1 if author is None else author


def _is_post(cell: str) -> bool:
    try:
        return bool(post_reference_parse(cell)[0])
    except HandoffError:
        return False


def _row(line: int, cells: list[str], columns: tuple[int, int], seen: dict[str, int]) -> dict[str, Any]:
    post_column, author_column = columns
    raw = cells[post_column] if post_column < len(cells) else ""
    handle = cells[author_column] if 0 <= author_column < len(cells) else ""
    row: dict[str, Any] = {"line": line, "post": raw[:300], "post_id": "", "author": "", "error": ""}
    if not raw:
        row["error"] = "No post on this line: add the post's address or id."
        return row
    try:
        post_id, author = post_reference_parse(raw)
    except HandoffError as exc:
        row["error"] = str(exc)
        return row
    row["post_id"] = post_id
    if not author and handle:
        author = handle.removeprefix("@")
        if not _HANDLE.match(author):
            row["error"] = f"Not an X handle: {handle[:30]!r} (letters, digits and _, at most 15)."
            return row
    row["author"] = author
    if post_id in seen:
        row["error"] = f"The same post as line {seen[post_id]}: one reply per post."
    else:
        seen[post_id] = line
    return row


# Templates --------------------------------------------------------------------------------------------


def _template_clean(template: str, what: str) -> str:
    template = template.replace("\r\n", "\n").replace("\r", "\n").strip()
    for name in _PLACEHOLDER.findall(template):
        if f"{{{name}}}" != AUTHOR:
            raise HandoffError(
                f"Unknown placeholder {{{name}}} in {what}: the only one is {AUTHOR}, which becomes the "
                "post author's @handle."
            )
    return template


def handoff_template_render(template: str, author: str) -> str:
    """``template`` with each ``{author}`` replaced by ``@author`` (by nothing when there is no author)."""
    return template.replace(AUTHOR, f"@{author}" if author else "").strip()


def handoff_reply_personalise(template: str, author: str) -> tuple[str, bool]:
    """``(reply, shortened)``: the template with the author's handle, shortened with "…" if it does not
    fit X's 280 characters with its link (rule in the module docstring). Raises ``HandoffError`` when
    even the handles alone do not fit."""
    reply = handoff_template_render(template, author)
    if reply_fits(reply)[1] >= 0:
        return reply, False
    pieces = _pieces(template, f"@{author}" if author else "")
    total = sum(len(graphemes) for is_handle, graphemes in pieces if not is_handle)

    def fits(keep: int) -> bool:
        return reply_fits(_cut(pieces, keep))[1] >= 0

    if not fits(0):
        weighted, left = reply_fits(_cut(pieces, 0))
        raise HandoffError(
            f"Too long for X even shortened: the handles and the link alone are {weighted} characters, "
            f"{-left} over {MAX_WEIGHTED_LENGTH}."
        )
    low, high = 0, total - 1  # the largest number of the template's graphemes to keep that still fits
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    keep = _word_boundary(pieces, low)
    return _cut(pieces, keep if fits(keep) else low), True


def _pieces(template: str, handle: str) -> list[tuple[bool, list[str]]]:
    """The template as ``(is_handle, graphemes)`` pieces, handles whole (one "grapheme" each)."""
    pieces: list[tuple[bool, list[str]]] = []
    for n, text in enumerate(template.split(AUTHOR)):
        if n:
            pieces.append((True, [handle]))
        pieces.append((False, regex.findall(r"\X", text)))
    return pieces


def _cut(pieces: list[tuple[bool, list[str]]], keep: int) -> str:
    """The reply keeping the first ``keep`` graphemes of the template's own text, then "…", then the handles
    that came after the cut."""
    kept: list[str] = []
    after: list[str] = []
    left = keep
    for is_handle, graphemes in pieces:
        if is_handle:
            (after if left < 0 else kept).extend(graphemes)
        elif left >= 0:
            if len(graphemes) <= left:
                kept.extend(graphemes)
                left -= len(graphemes)
            else:
                kept.extend(graphemes[:left])
                left = -1
    head = "".join(kept).rstrip(" \t\n,;:.-–—") + _ELLIPSIS
    handles = " ".join(handle for handle in after if handle)
    return f"{head} {handles}".strip() if handles else head.strip()


def _word_boundary(pieces: list[tuple[bool, list[str]]], keep: int) -> int:
    """``keep`` moved back (by at most ``_WORD_BACKOFF``) so the cut falls between words, if it can."""
    text = [g for is_handle, graphemes in pieces if not is_handle for g in graphemes]
    if keep >= len(text) or text[keep].isspace():
        return keep
    for position in range(keep, max(0, keep - _WORD_BACKOFF) - 1, -1):
        if position == 0 or text[position - 1].isspace():
            return position
    return keep


def _templates_check(*, account: XAccount, reply: str, prefill: str, host: str) -> None:
    if not reply:
        raise HandoffError("Write the public reply: it is posted with each link.")
    weighted, left = reply_fits(handoff_template_render(reply, "a"))
    if left < 0:
        raise HandoffError(
            f"The public reply cannot fit X's {MAX_WEIGHTED_LENGTH} characters even for a one-letter handle: "
            f"with its link it is {weighted} characters as X counts them, {-left} over (the link counts 23, "
            f"each {AUTHOR} at least 2)."
        )
    if len(prefill) > PREFILL_MAX_LENGTH:
        raise HandoffError(f"The DM text has at most {PREFILL_MAX_LENGTH:,} characters.")
    sample = handoff_prefill(handoff_template_render(prefill, "a" * 15), "ABCD2345")
    try:
        dm_link_build(DmLink(recipient_id=account.inbox.x_user_id, text=sample, host=host))
    except DeepLinkError as exc:
        raise HandoffError(f"The text the customer finds in the DM: {exc}") from exc


# Creating and running a batch -------------------------------------------------------------------------


def handoff_batch_create(
    *,
    account: XAccount,
    created_by: User | None,
    campaign: str = "",
    reply_template: str,
    prefill_template: str = "",
    host: str = HandoffLink.Host.TWITTER,
    text: str,
) -> HandoffBatch:
    """Check the templates and the list, store the batch (``queued``) and enqueue its generation after
    commit. Raises ``HandoffError`` with a message for the form; bad lines are kept as rows with errors."""
    campaign = campaign.strip()
    if len(campaign) > 100:
        raise HandoffError("A campaign name has at most 100 characters.")
    reply_template = _template_clean(reply_template, "the public reply")
    prefill_template = _template_clean(prefill_template, "the DM text")
    _templates_check(account=account, reply=reply_template, prefill=prefill_template, host=host)
    rows = handoff_batch_input_parse(text)
    if not rows:
        raise HandoffError("The list is empty: paste one post per line (its address or id), or upload a CSV file.")
    if AUTHOR in reply_template or AUTHOR in prefill_template:
        for row in rows:
            if not row["error"] and not row["author"]:
                row["error"] = "No author handle: the templates use {author}; add the handle after the post id."
    with transaction.atomic():
        batch = HandoffBatch.objects.create(
            account=account,
            campaign=campaign,
            reply_template=reply_template,
            prefill_template=prefill_template,
            host=host,
            rows=rows,
            total=len(rows),
            created_by=created_by,
        )
        transaction.on_commit(_enqueue(batch.pk), robust=True)
    return batch


STUCK_AFTER = timedelta(minutes=2)


def handoff_batch_restart(*, batch_id: int) -> HandoffBatch:
    """Queue a failed batch again, or one still queued after ``STUCK_AFTER`` (its task was lost, say the
    broker was down when it was made). Rows already made are kept (``handoff_batch_run`` skips them).
    Locks the batch row; raises ``HandoffError`` for a batch that is done or still running."""
    with transaction.atomic():
        batch = HandoffBatch.objects.select_for_update().get(pk=batch_id)
        stuck = batch.status == HandoffBatch.Status.QUEUED and timezone.now() - batch.created_at >= STUCK_AFTER
        if batch.status != HandoffBatch.Status.FAILED and not stuck:
            state = batch.get_status_display().lower()
            raise HandoffError(f"Batch {batch.pk} is {state}; only a failed or stuck one runs again.")
        batch.status, batch.error = HandoffBatch.Status.QUEUED, ""
        batch.save(update_fields=["status", "error"])
        transaction.on_commit(_enqueue(batch.pk), robust=True)
    return batch


def _enqueue(batch_id: int) -> Callable[[], None]:
    def enqueue_handoff_batch_generate() -> None:
        task(HANDOFF_BATCH_GENERATE).delay(batch_id)

    return enqueue_handoff_batch_generate


def handoff_batch_run(*, batch_id: int) -> HandoffBatch:
    """Generate the batch's rows not generated yet (the task's body). Safe to run twice or side by side:
    each chunk locks the batch row and re-reads which rows are done. Returns at once if the batch is done.
    Unexpected errors propagate (the chunk at hand rolls back whole); row errors are stored on the row."""
    last_published: float | None = None
    while True:
        with transaction.atomic():
            locked = HandoffBatch.objects.select_for_update(of=("self",))
            batch = locked.select_related("account__inbox", "created_by").get(pk=batch_id)
            if batch.status == HandoffBatch.Status.DONE:
                return batch
            batch.status, batch.error = HandoffBatch.Status.RUNNING, ""
            started = _clock()
            for index in _pending(batch.rows)[:CHUNK_ROWS]:
                batch.rows[index] = _row_generate(batch, batch.rows[index])
                if _clock() - started >= PROGRESS_INTERVAL:
                    break
            batch.processed = sum(1 for row in batch.rows if row.get("done"))
            finished = not _pending(batch.rows)
            if finished:
                batch.status, batch.finished_at = HandoffBatch.Status.DONE, timezone.now()
            batch.save(update_fields=["rows", "processed", "status", "error", "finished_at"])
            now = _clock()
            if finished or last_published is None or now - last_published >= PROGRESS_INTERVAL:
                _progress_publish(batch)  # sent once this chunk commits
                last_published = now
        if finished:
            return batch


def _pending(rows: list[dict[str, Any]]) -> list[int]:
    return [index for index, row in enumerate(rows) if not row.get("done")]


def _row_generate(batch: HandoffBatch, row: dict[str, Any]) -> dict[str, Any]:
    if row.get("error"):
        return {**row, "done": True}
    author = row["author"]
    try:
        reply, shortened = handoff_reply_personalise(batch.reply_template, author)
        link = handoff_link_create(
            account=batch.account,
            created_by=batch.created_by,
            reply_text=reply,
            prefill_text=handoff_template_render(batch.prefill_template, author),
            campaign=batch.campaign,
            post=_post_url(row["post_id"], author),
            host=batch.host,
            batch=batch,
        )
    except HandoffError as exc:
        return {**row, "done": True, "error": str(exc)}
    return {
        **row,
        "done": True,
        "link_id": link.pk,
        "ref_code": link.ref_code,
        "public_reply": handoff_public_reply(link),
        "url": handoff_link_url(link),
        "shortened": shortened,
    }


def _post_url(post_id: str, author: str) -> str:
    return f"https://x.com/{author or 'i/web'}/status/{post_id}"


def handoff_batch_fail(*, batch_id: int, error: str) -> HandoffBatch | None:
    """Mark a batch that could not finish as ``failed`` with ``error`` (rows made so far stay); tell its creator."""
    with transaction.atomic():
        batch = HandoffBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status == HandoffBatch.Status.DONE:
            return batch
        batch.status, batch.error, batch.finished_at = HandoffBatch.Status.FAILED, error, timezone.now()
        batch.save(update_fields=["status", "error", "finished_at"])
        _progress_publish(batch)
    return batch


def _progress_publish(batch: HandoffBatch) -> None:
    """``handoff.batch.progress`` for ``batch`` as it stands, sent when the caller's transaction commits."""
    publish_handoff_batch_progress(
        batch_id=batch.pk,
        created_by_id=batch.created_by_id,
        processed=batch.processed,
        total=batch.total,
        status=batch.status,
    )


# Output -----------------------------------------------------------------------------------------------


def handoff_batch_csv_rows(batch: HandoffBatch) -> Iterator[list[str]]:
    """The CSV's rows, header first, every cell made safe for spreadsheets (module docstring)."""
    yield list(CSV_COLUMNS)
    for row in sorted(batch.rows, key=lambda row: row["line"]):
        error = row.get("error") or ("" if row.get("done") else "Not generated: the batch stopped before this line.")
        made = bool(row.get("link_id"))
        cells = [
            str(row["line"]),
            _post_url(row["post_id"], row["author"]) if row.get("post_id") else row.get("post", ""),
            row.get("author", ""),
            row.get("public_reply", ""),
            row.get("url", ""),
            row.get("ref_code", ""),
            ("yes" if row.get("shortened") else "no") if made else "",
            error,
        ]
        yield [csv_cell(cell) for cell in cells]


def csv_cell(value: str) -> str:
    """``value`` prefixed with ``'`` if a spreadsheet would read it as a formula."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def handoff_batch_csv(batch: HandoffBatch) -> str:
    """The whole CSV (UTF-8 BOM first, for Excel): at most ``MAX_ROWS`` rows, a few hundred KB."""
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows(handoff_batch_csv_rows(batch))
    return out.getvalue()
