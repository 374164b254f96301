"""DM media reaches our storage through the account's own auth: exact bytes, checked types, failures recorded."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inbox.dm_events import DmMedia, MediaVariant
from inbox.models import MessageAttachment
from tests.factories import dm
from tests.twitter_channel.inbound.test_poll import make_account
from tests.twitter_channel.x.client_sandbox import GIF, png, x_client
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID
from twitter_channel import tasks
from twitter_channel.inbound import media
from twitter_channel.inbound.ingesting import account_events_ingest
from twitter_channel.inbound.sync import account_poll
from twitter_channel.x.client import XClient

pytestmark = pytest.mark.django_db


def customer_sends(sandbox, data: bytes, *, mime: str = "image/png", category: str = "dm_image") -> str:
    """María uploads ``data`` and sends it to the business in a DM; returns the DM's event id."""

    def sandbox_time_passes(seconds: float) -> None:  # X processes GIFs and videos for a few seconds
        sandbox.control("POST", "clock", {"seconds": seconds})

    maria = x_client(sandbox, user="maria_codes", sleep=sandbox_time_passes)
    try:
        uploaded = maria.media_upload(data, media_type=mime, media_category=category)
        return maria.dm_send_to_participant(BUSINESS_ID, text="the broken part", media_id=uploaded.media_id).dm_event_id
    finally:
        maria.close()


def media_downloads(sandbox) -> int:
    windows = sandbox.control("GET", "counters")["rate_windows"]
    return sum(w["count"] for w in windows if w["key"].startswith(f"user:media_download:{BUSINESS_ID}:"))


def poll_running_after_commit_tasks(account, capture) -> None:
    with capture(execute=True):
        result = account_poll(account_id=account.pk)
    assert result.complete and result.created >= 1, result


def the_attachment(event_id: str) -> MessageAttachment:
    return MessageAttachment.objects.get(message__x_event_id=event_id)


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()]


def test_a_customers_image_is_stored_with_its_exact_bytes(
    x_sandbox, account, media_root, published, django_capture_on_commit_callbacks
):
    data = png()
    event_id = customer_sends(x_sandbox, data)

    poll_running_after_commit_tasks(account, django_capture_on_commit_callbacks)

    attachment = the_attachment(event_id)
    assert attachment.media_type == "photo" and attachment.download_url.startswith(x_sandbox.base_url)
    assert attachment.file.name.startswith("dm-media/") and attachment.file.name.endswith(".png")
    with attachment.file.open("rb") as stored:
        assert stored.read() == data
    assert (attachment.content_type, attachment.download_error) == ("image/png", "")
    assert attachment.stored_at is not None and attachment.size_bytes == len(data)
    assert stored_files(media_root) == [media_root / attachment.file.name]
    updates = [m for m in published.of("message.updated") if m["message_id"] == attachment.message_id]
    assert len(updates) == 1, "open threads are told the file is there"


def test_a_gif_is_fetched_from_its_rendition(x_sandbox, account, django_capture_on_commit_callbacks):
    event_id = customer_sends(x_sandbox, GIF, mime="image/gif", category="dm_gif")

    poll_running_after_commit_tasks(account, django_capture_on_commit_callbacks)

    attachment = the_attachment(event_id)
    assert attachment.media_type == "animated_gif" and attachment.variants
    with attachment.file.open("rb") as stored:
        assert stored.read() == GIF
    assert attachment.content_type == "image/gif"


def test_a_file_over_the_size_limit_is_not_stored_and_the_reason_is_kept(
    x_sandbox, account, settings, media_root, django_capture_on_commit_callbacks
):
    data = png()
    settings.X_MEDIA_MAX_BYTES = len(data) - 1
    event_id = customer_sends(x_sandbox, data)

    poll_running_after_commit_tasks(account, django_capture_on_commit_callbacks)  # the ingest itself succeeds

    attachment = the_attachment(event_id)
    assert not attachment.file and attachment.stored_at is None
    assert f"larger than the {len(data) - 1} bytes allowed" in attachment.download_error
    assert stored_files(media_root) == []


def ingest_without_running_tasks(account, capture) -> None:
    with capture():  # the downloads enqueued after commit are dropped: the test runs the task itself
        account_poll(account_id=account.pk)


def test_x_failing_once_is_retried_by_the_task(x_sandbox, account, django_capture_on_commit_callbacks):
    data = png()
    event_id = customer_sends(x_sandbox, data)
    ingest_without_running_tasks(account, django_capture_on_commit_callbacks)
    fault = {"kind": "503", "method": "GET", "path": "/2/dm_conversations/media/", "count": 1}
    x_sandbox.control("POST", "faults", fault)

    # throw=False: Celery's eager mode then runs the retry (a worker would run it after the countdown)
    outcome = tasks.attachment_download.apply(args=(the_attachment(event_id).pk,), throw=False)

    assert outcome.result == {"stored": True, "error": ""}
    assert x_sandbox.control("GET", "faults") == [], "the fault fired"
    attachment = the_attachment(event_id)
    with attachment.file.open("rb") as stored:
        assert stored.read() == data
    assert attachment.download_error == ""


def test_x_failing_on_the_last_attempt_leaves_the_reason_on_the_attachment(
    x_sandbox, account, django_capture_on_commit_callbacks
):
    event_id = customer_sends(x_sandbox, png())
    ingest_without_running_tasks(account, django_capture_on_commit_callbacks)
    x_sandbox.control("POST", "faults", {"kind": "503", "method": "GET", "path": "/2/dm_conversations/media/",
                                         "count": 1})  # fmt: skip
    last_attempt = tasks.attachment_download.max_retries

    outcome = tasks.attachment_download.apply(args=(the_attachment(event_id).pk,), retries=last_attempt)

    assert outcome.successful() and outcome.result["stored"] is False
    attachment = the_attachment(event_id)
    assert not attachment.file
    assert attachment.download_error.startswith("X did not answer: GET /2/dm_conversations/media/")
    assert "503" in attachment.download_error


@pytest.mark.parametrize(
    "content_type", ["image/svg+xml", "text/html; charset=utf-8", "application/octet-stream", "IMAGE/SVG+XML"]
)
def test_what_is_not_an_image_or_a_video_is_refused(
    x_sandbox, account, media_root, monkeypatch, django_capture_on_commit_callbacks, content_type
):
    event_id = customer_sends(x_sandbox, png())
    monkeypatch.setattr(
        XClient, "media_download", lambda self, url, max_bytes: (b"<svg onload=alert(1)>", content_type)
    )

    poll_running_after_commit_tasks(account, django_capture_on_commit_callbacks)

    attachment = the_attachment(event_id)
    assert not attachment.file and "not an image or a video" in attachment.download_error
    assert stored_files(media_root) == []


def test_a_stored_file_is_not_fetched_again(x_sandbox, account, django_capture_on_commit_callbacks):
    event_id = customer_sends(x_sandbox, png())
    poll_running_after_commit_tasks(account, django_capture_on_commit_callbacks)
    attachment = the_attachment(event_id)
    downloads = media_downloads(x_sandbox)

    outcome = media.attachment_download(attachment_id=attachment.pk)

    assert outcome.stored and media_downloads(x_sandbox) == downloads == 1
    assert the_attachment(event_id).file.name == attachment.file.name


def test_only_new_attachments_x_says_where_to_fetch_are_enqueued(monkeypatch, django_capture_on_commit_callbacks):
    account = make_account()
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.attachment_download, "delay", enqueued.append)
    video = MediaVariant(bitrate=832000, content_type="video/mp4", url="https://video.twimg.com/dm_video/13/a.mp4")
    with_media = replace(
        dm(account.inbox, CUSTOMER_ID, text="three files"),
        attachments=(
            DmMedia("photo", media_key="3_11"),  # not expanded: X said nothing about where it is
            DmMedia("photo", media_key="3_12", download_url="https://api.x.com/2/dm_conversations/media/12"),
            DmMedia("video", media_key="7_13", variants=(video,)),
        ),
    )

    with django_capture_on_commit_callbacks(execute=True):
        account_events_ingest(account=account, events=[with_media, dm(account.inbox, CUSTOMER_ID, text="no media")])
    with django_capture_on_commit_callbacks(execute=True):
        account_events_ingest(account=account, events=[with_media])  # a replay: no new message

    expected = MessageAttachment.objects.filter(media_key__in=["3_12", "7_13"]).values_list("pk", flat=True)
    assert sorted(enqueued) == sorted(expected) and len(enqueued) == 2
