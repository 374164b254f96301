"""Bulk generation's pages: a pasted list or an uploaded CSV makes a batch, bad input is named, who may see
which batch, the CSV waits for the end, a failed or stuck batch runs again, and one batch run by a real
Celery worker whose progress reaches the manager's websocket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from inbox.services.inboxes import inbox_member_add
from tests.celery_worker import CeleryWorker
from tests.factories import make_agent
from tests.helpers import inbox_socket, next_event, session_cookie
from tests.twitter_channel.handoff.handoff_batch_fixtures import (
    connected_account,
    make_batch,
    posts,
    read_csv,
    social_manager_of,
)
from twitter_channel.handoff.batches import (
    MAX_ROWS,
    PROGRESS_EVENT,
)
from twitter_channel.models import HandoffBatch, HandoffLink, XAccount
from twitter_channel.tasks import handoff_batch_generate

pytestmark = pytest.mark.django_db


@pytest.fixture
def account() -> XAccount:
    return connected_account()


@pytest.fixture
def manager(account: XAccount) -> User:
    return social_manager_of(account)


# Pages -----------------------------------------------------------------------------------------------


@pytest.fixture
def manager_client(client: Client, manager: User) -> Client:
    client.force_login(manager)
    return client


def form_data(to: XAccount, **fields) -> dict[str, object]:
    return {
        "account": to.pk,
        "campaign": "Spring",
        "reply_template": "Sorry {author}, DM us!",
        "prefill_template": "Hi",
        "host": "twitter.com",
        "posts": "",
        **fields,
    }


def test_a_pasted_list_makes_a_batch_whose_page_shows_its_progress_and_csv(
    manager_client, account, django_capture_on_commit_callbacks
):
    page = manager_client.get("/handoff/batches/")
    assert page.status_code == 200
    assert "Write {author} where the post&#x27;s author goes" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post("/handoff/batches/", form_data(account, posts="11, ana\n12, ben\n"))

    batch = HandoffBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/handoff/batches/{batch.pk}/"
    detail = manager_client.get(response["Location"]).content.decode()
    assert '<progress id="batch-bar" max="2" value="2" aria-label="Posts generated in batch' in detail
    assert f'href="/handoff/batches/{batch.pk}/csv/" download>Download CSV</a>' in detail
    fragment = manager_client.get(f"/handoff/batches/{batch.pk}/progress/")
    assert fragment.status_code == 200 and fragment["Cache-Control"] == "no-store"
    assert 'data-status="done"' in fragment.content.decode()
    download = manager_client.get(f"/handoff/batches/{batch.pk}/csv/")
    assert download["Content-Disposition"] == f'attachment; filename="handoff-batch-{batch.pk}.csv"'
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert [row["author"] for row in read_csv(download.content.decode())] == ["ana", "ben"]
    assert f"Batch {batch.pk}" in manager_client.get("/handoff/batches/").content.decode()


def test_an_uploaded_csv_with_a_header_and_semicolons_makes_a_batch(manager_client, account):
    upload = SimpleUploadedFile("posts.csv", "author;post\n@ana;11\nbén;12\n".encode("cp1252"), "text/csv")

    response = manager_client.post("/handoff/batches/", {**form_data(account), "posts_file": upload})

    assert response.status_code == 302
    rows = HandoffBatch.objects.get().rows
    assert [(row["line"], row["post_id"], row["author"]) for row in rows] == [(2, "11", "ana"), (3, "12", "")]
    assert rows[1]["error"] == "Not an X handle: 'bén' (letters, digits and _, at most 15)."


def test_an_excel_unicode_text_file_is_read(manager_client, account):
    upload = SimpleUploadedFile("posts.txt", "post\tauthor\r\n11\tana\r\n".encode("utf-16"), "text/plain")
    assert manager_client.post("/handoff/batches/", {**form_data(account), "posts_file": upload}).status_code == 302
    assert HandoffBatch.objects.get().rows[0]["author"] == "ana"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Paste the posts, one per line, or upload a CSV file."),
        ({"posts": "11, ana", "posts_file": "11, ana"}, "Paste the posts or upload a file, not both."),
        (
            {"posts": "11, ana", "reply_template": "{author} " + "a" * 300},
            "even for a one-letter handle: with its link",
        ),
        ({"posts": "11, ana", "reply_template": "Hi {user}"}, "Unknown placeholder {user}"),
        ({"posts": posts(MAX_ROWS + 1)}, "one batch takes at most 1,000"),
        ({"posts_file": b"\x00\x01binary"}, "This is not a text or CSV file."),
        ({"posts": "11, ana", "account": 999999}, "Select a valid choice."),
    ],
)
def test_bad_input_shows_the_form_again_with_a_precise_message(manager_client, account, fields, message):
    data = form_data(account, **{k: v for k, v in fields.items() if k != "posts_file"})
    if "posts_file" in fields:
        content = fields["posts_file"]
        data["posts_file"] = SimpleUploadedFile("p.csv", content if isinstance(content, bytes) else content.encode())

    response = manager_client.post("/handoff/batches/", data)

    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not HandoffBatch.objects.exists()


def test_agents_may_not_and_batches_of_accounts_one_cannot_see_are_not_found(client, account, manager):
    batch = make_batch(account, manager, "11, ana")
    client.force_login(make_agent(role=User.Role.AGENT))
    assert client.get("/handoff/batches/").status_code == 403
    assert client.post("/handoff/batches/", form_data(account, posts="11, ana")).status_code == 403

    outsider = make_agent(role=User.Role.SOCIAL)
    client.force_login(outsider)
    for path in ("", "progress/", "csv/"):
        assert client.get(f"/handoff/batches/{batch.pk}/{path}").status_code == 404
    page = client.get("/handoff/batches/").content.decode()
    assert f"Batch {batch.pk}" not in page and f'value="{account.pk}"' not in page
    assert client.post("/handoff/batches/", form_data(account, posts="11, ana")).status_code == 400


@pytest.mark.parametrize("role", [User.Role.LEAD, User.Role.ADMIN])
def test_leads_of_the_inbox_and_admins_see_the_batch(client, account, manager, role):
    batch = make_batch(account, manager, "11, ana")
    user = make_agent(role=role)
    inbox_member_add(inbox=account.inbox, user=user)
    client.force_login(user)
    for path in ("", "progress/"):
        assert client.get(f"/handoff/batches/{batch.pk}/{path}").status_code == 200
    assert f"Batch {batch.pk}" in client.get("/handoff/batches/").content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(client, account, manager):
    batch = make_batch(account, manager, "11, ana")
    for path in ("", f"{batch.pk}/", f"{batch.pk}/progress/", f"{batch.pk}/csv/"):
        response = client.get(f"/handoff/batches/{path}")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_manager_without_an_x_account_is_told_so(client):
    client.force_login(make_agent(role=User.Role.SOCIAL))
    assert "None of your inboxes has an X account yet" in client.get("/handoff/batches/").content.decode()


def test_the_csv_waits_for_the_batch_to_finish(manager_client, account, manager):
    batch = make_batch(account, manager, "11, ana")
    response = manager_client.get(f"/handoff/batches/{batch.pk}/csv/")
    assert response.status_code == 409 and b"still being generated" in response.content


# A real worker ---------------------------------------------------------------------------------------


def batch_by_a_real_worker_setup() -> tuple[int, bytes]:
    account = connected_account()
    user = make_agent(role=User.Role.SOCIAL)
    inbox_member_add(inbox=account.inbox, user=user)
    return user.pk, session_cookie(user)


@pytest.mark.django_db(transaction=True)
async def test_a_real_worker_generates_the_batch_and_its_progress_reaches_the_managers_websocket(
    celery_worker: CeleryWorker,
):
    user_id, cookie = await sync_to_async(batch_by_a_real_worker_setup)()
    communicator = await inbox_socket(cookie)
    try:

        def create() -> int:
            with transaction.atomic():
                account = XAccount.objects.get()
                user = User.objects.get(pk=user_id)
                return make_batch(account, user, posts(120)).pk

        batch_id = await sync_to_async(create)()
        seen = []
        while not seen or seen[-1]["status"] != "done":
            seen.append(await next_event(communicator, PROGRESS_EVENT, seconds=60))

        assert all(event["batch_id"] == batch_id and event["total"] == 120 for event in seen)
        processed = [event["processed"] for event in seen]
        assert processed == sorted(processed) and processed[-1] == 120

        def check() -> None:
            batch = HandoffBatch.objects.get(pk=batch_id)
            assert (batch.status, batch.processed) == ("done", 120)
            assert HandoffLink.objects.filter(batch=batch).count() == 120
            assert " succeeded in " in celery_worker.log()

        await sync_to_async(celery_worker.eventually)(check)
    finally:
        await communicator.disconnect()


def test_a_failed_or_stuck_batch_runs_again_and_a_running_one_does_not(
    client, account, manager, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(handoff_batch_generate, "delay", queued.append)
    client.force_login(manager)
    failed = HandoffBatch.objects.create(account=account, reply_template="Hi", status="failed", error="boom")
    stuck = HandoffBatch.objects.create(account=account, reply_template="Hi")
    HandoffBatch.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    running = HandoffBatch.objects.create(account=account, reply_template="Hi", status="running")

    page = client.get(reverse("handoff:batch", args=[stuck.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post(reverse("handoff:batch_restart", args=[b.pk])) for b in (failed, stuck, running)]

    assert "It has waited for a worker for over two minutes." in page
    assert [a.status_code for a in answers] == [302, 302, 409]
    assert answers[2].content.decode() == f"Batch {running.pk} is running; only a failed or stuck one runs again."
    assert queued == [failed.pk, stuck.pk]
    assert HandoffBatch.objects.get(pk=failed.pk).error == ""
