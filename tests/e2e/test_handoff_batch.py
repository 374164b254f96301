"""Bulk generation in Chromium: a social manager pastes 40 posts, a real Celery worker generates the replies
and links, the page's progress bar follows the job over the websocket, and the CSV downloads with the
same rows as the database."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from django.db import connection, transaction
from playwright.sync_api import Browser, expect

from accounts.models import User
from tests.e2e.conftest import LiveX
from tests.e2e.test_agent_inbox import agent_of
from twitter_channel.handoff.links import handoff_public_reply
from twitter_channel.handoff.post_length import post_length
from twitter_channel.models import HandoffBatch, HandoffLink

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

JOB = 30_000  # ms: a worker started for the test, 40 rows
# fits with a short handle; a 15-letter one pushes it over 280, so it is shortened with "…"
TEMPLATE = (
    "{author} " + ("So sorry about this! Tap below to message us privately and we will sort it out. " * 3)[:239] + " :)"
)

# Records every value the progress bar shows, from before the job starts to its end.
RECORD_PROGRESS = """() => {
  const values = [Number(document.querySelector("#batch-bar").value)];
  window.progressValues = values;
  new MutationObserver(() => {
    const bar = document.querySelector("#batch-bar");
    if (bar && Number(bar.value) !== values.at(-1)) values.push(Number(bar.value));
  }).observe(document.querySelector("#batch-progress"), { subtree: true, childList: true, attributes: true });
}"""


def pasted_posts() -> tuple[str, list[str]]:
    """40 lines: addresses, ids with handles (one 15 letters long), and one line that is no post."""
    lines, authors = [], []
    for n in range(40):
        post_id = 1790000000000000100 + n
        author = "abcdefghijklmno" if n == 7 else f"customer_{n}"
        if n == 13:
            lines.append("https://example.com/not/a/post")
            continue
        lines.append(f"https://x.com/{author}/status/{post_id}" if n % 2 else f"{post_id}, @{author}")
        authors.append(author)
    return "\n".join(lines), authors


def test_the_template_fits_short_handles_and_not_the_longest():
    def weighted(handle: str) -> int:
        return post_length(f"{TEMPLATE.replace('{author}', handle)} https://x.com/messages/compose").weighted

    assert weighted("@customer_39") <= 280 < weighted("@abcdefghijklmno")


def test_a_bulk_job_moves_its_progress_bar_live_and_downloads_as_csv(
    browser: Browser, queued_tasks, x_live: LiveX, celery_worker_process, screenshot, tmp_path
):
    sofia = agent_of(x_live, "Sofia Social", role=User.Role.SOCIAL)
    page = x_live.login(browser.new_context(viewport={"width": 1280, "height": 800}), sofia)
    page.goto(f"{x_live.url}/handoff/batches/")
    text, authors = pasted_posts()

    page.get_by_label("Campaign").fill("Spring delays")
    page.get_by_label("Public reply").fill(TEMPLATE)
    expect(page.locator("#template-counter")).to_contain_text("shortened with “…” for long handles")
    page.get_by_label("Text the customer finds in the DM").fill("Hi, about my post:")
    page.get_by_label("Posts, one per line").fill(text)
    # The worker may not make a link until the page shows the batch and listens: the test holds a lock
    # that blocks every insert of a link (reads go on), so the job waits at its first row.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {HandoffLink._meta.db_table} IN SHARE MODE")
        page.get_by_role("button", name="Generate replies and links").click()
        expect(page).to_have_url(re.compile(r"/handoff/batches/\d+/$"))
        expect(page.locator("[data-batch][data-connection=open]")).to_be_attached()
        bar = page.get_by_role("progressbar", name=re.compile("^Posts generated in batch"))
        expect(bar).to_have_attribute("value", "0")
        expect(bar).to_have_attribute("max", "40")
        expect(page.get_by_role("link", name="Download CSV")).to_be_hidden()
        page.evaluate("window.stillTheSamePage = true")
        page.evaluate(RECORD_PROGRESS)

    expect(page.locator("[data-batch][data-status=done]")).to_be_attached(timeout=JOB)
    expect(bar).to_have_attribute("value", "40")
    expect(page.locator("#batch-status")).to_have_text("Done")
    download_link = page.get_by_role("link", name="Download CSV")
    expect(download_link).to_be_visible()
    values = page.evaluate("window.progressValues")
    assert values[0] == 0 and values[-1] == 40, values
    assert values == sorted(values), f"the bar went back: {values}"
    assert any(0 < value < 40 for value in values), f"no value between 0 and 40 was shown: {values}"
    assert page.evaluate("window.stillTheSamePage") is True  # moved by events, not by reloading
    expect(page.locator("table.handoff-batch-rows tbody tr")).to_have_count(40)
    screenshot(page, "handoff-batch-done-1280x800", full_page=True)

    rows = downloaded_csv(page, download_link, tmp_path)

    assert len(rows) == 40
    assert [row["line"] for row in rows] == [str(n) for n in range(1, 41)]
    assert rows[13]["error"].startswith("Not a post") and rows[13]["link"] == ""
    made = [row for row in rows if row["link"]]
    batch = HandoffBatch.objects.get()
    links = {link.ref_code: link for link in HandoffLink.objects.filter(batch=batch).select_related("account__inbox")}
    assert len(made) == len(links) == 39
    assert [row["author"] for row in made] == authors
    for row in made:
        link = links[row["ref_code"]]
        reply = row["public_reply"].removeprefix("'")  # starts with @handle: prefixed for spreadsheets
        assert reply == handoff_public_reply(link) and row["public_reply"].startswith("'@")
        assert row["post"] == f"https://x.com/{link.post_author}/status/{link.post_id}"
        assert row["link"] == reply.rsplit(" ", 1)[1] and f"Ref%20{link.ref_code}" in row["link"]
        assert post_length(reply).weighted <= 280
        assert row["shortened"] == ("yes" if link.post_author == "abcdefghijklmno" else "no")
        assert link.campaign == "Spring delays" and link.created_by == sofia
    assert links[made[7]["ref_code"]].reply_text.endswith("…")


def downloaded_csv(page, link, folder: Path) -> list[dict[str, str]]:  # noqa: ANN001
    """Click ``link``, save the download into ``folder`` under the name the server gave, read it back as rows."""
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    batch = HandoffBatch.objects.get()
    assert download.suggested_filename == f"handoff-batch-{batch.pk}.csv"
    path = folder / download.suggested_filename
    download.save_as(path)
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))
