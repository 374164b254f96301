"""Undo: a reply can be taken back within ``X_REPLY_UNDO_SECONDS`` of being written, before it leaves.

The service and the view run here with the send task's enqueue recorded; the last test runs a real
worker against the X sandbox and shows that an undone reply never reaches X.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from inbox.models import Conversation, Message, MessageAttachment
from inbox.selectors.replies import undo_deadline
from inbox.services.inboxes import inbox_member_add
from inbox.services.ingest import dm_event_ingest
from inbox.services.replies import (
    SEND_TASK,
    ReplyError,
    ReplyNotAllowed,
    ReplyNotDue,
    reply_create,
    reply_mark_sending,
    reply_requeue,
)
from inbox.services.reply_undo import TOO_LATE, reply_cancel
from tests.factories import dm, make_agent, make_inbox
from tests.twitter_channel.conftest import x_sandbox  # noqa: F401  (fixture)
from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
from tests.twitter_channel.outbound.reply_world import conversation_polled, customer_writes, sent_by_business
from tests.twitter_channel.worker_processes import workers_fixture  # noqa: F401
from tests.twitter_channel.x.client_sandbox import png

pytestmark = pytest.mark.django_db

CUSTOMER = "2244994945"
QUESTION_AT = timedelta(minutes=5)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple, dict[str, Any]]]:
    """The send tasks enqueued (arguments, options such as ``eta``), recorded instead of sent to a broker."""
    calls: list[tuple[tuple, dict[str, Any]]] = []
    task = current_app.tasks[SEND_TASK]
    monkeypatch.setattr(task, "delay", lambda *args: calls.append((args, {})))
    monkeypatch.setattr(
        task, "apply_async", lambda args=(), kwargs=None, **options: calls.append((tuple(args), options))
    )
    return calls


@pytest.fixture
def undo_window(settings, enqueued) -> Iterator[int]:
    """Tasks going to workers (not inline), with the default 5-second window."""
    settings.X_REPLY_UNDO_SECONDS = 5
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    try:
        yield 5
    finally:
        current_app.conf.task_always_eager = eager


@pytest.fixture
def agent() -> User:
    return make_agent(name="Sam Support")


@pytest.fixture
def conversation(agent) -> Conversation:
    """A customer's question, five minutes old, in an inbox ``agent`` works."""
    inbox = make_inbox(members=(agent,))
    event = dm(inbox, CUSTOMER, text="Where is my parcel?", at=timezone.now() - QUESTION_AT)
    return dm_event_ingest(inbox=inbox, event=event).message.conversation


def create(conversation: Conversation, author: User, text: str = "It ships today.", token: str = "tok-1", **kw: Any):
    return reply_create(conversation_id=conversation.pk, author=author, text=text, client_token=token, **kw)


def summary(conversation: Conversation) -> tuple:
    conversation.refresh_from_db()
    return (conversation.last_message_at, conversation.last_message_preview, conversation.needs_reply,
            conversation.first_response_at)  # fmt: skip


def window_over(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(seconds=10), send_after=timezone.now() - timedelta(seconds=5)
    )


# --- the window ---------------------------------------------------------------------------------------------------


def test_a_new_reply_is_held_for_its_undo_window_and_enqueued_for_its_end(
    conversation, agent, undo_window, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = create(conversation, agent)

    message.refresh_from_db()
    assert message.send_after - message.created_at == pytest.approx(timedelta(seconds=5), abs=timedelta(seconds=1))
    assert enqueued == [((message.pk,), {"eta": message.send_after})]
    assert undo_deadline(message) == message.send_after
    with pytest.raises(ReplyNotDue) as early:
        reply_mark_sending(message_id=message.pk)
    assert early.value.send_after == message.send_after
    assert Message.objects.get(pk=message.pk).delivery_state == "queued", "refused, not dropped"


def test_without_a_broker_there_is_no_undo_window(conversation, agent, enqueued, django_capture_on_commit_callbacks):
    # given the quick start: tasks run inline (the test settings' default)
    assert current_app.conf.task_always_eager

    with django_capture_on_commit_callbacks(execute=True):
        message = create(conversation, agent)

    assert message.send_after is None and enqueued == [((message.pk,), {})]
    with pytest.raises(ReplyError, match=TOO_LATE):
        reply_cancel(message_id=message.pk, actor=agent)


def test_zero_seconds_turns_undo_off(conversation, agent, undo_window, settings, enqueued):
    settings.X_REPLY_UNDO_SECONDS = 0

    message = create(conversation, agent)

    assert message.send_after is None and undo_deadline(message) is None


# --- undoing ------------------------------------------------------------------------------------------------------


def test_undo_within_the_window_deletes_the_reply_and_its_file_and_restores_the_conversation(
    conversation, agent, undo_window, published, media_root, django_capture_on_commit_callbacks
):
    # given the customer's question, and the agent's reply with an image
    before = summary(conversation)
    assert before[1:] == ("Where is my parcel?", True, None)
    message = create(conversation, agent, attachment=SimpleUploadedFile("label.png", png(), content_type="image/png"))
    stored = media_root / message.attachments.get().file.name
    assert stored.exists() and summary(conversation)[1:3] == ("It ships today.", False)
    published.clear()

    # when the agent undoes it within the window
    with django_capture_on_commit_callbacks(execute=True):
        reply_cancel(message_id=message.pk, actor=agent)

    # then the reply, its attachment and its file are gone, and the list row is as before
    assert not Message.objects.filter(pk=message.pk).exists()
    assert not MessageAttachment.objects.filter(message_id=message.pk).exists() and not stored.exists()
    assert summary(conversation) == before
    assert published.of("message.deleted") == [
        {"message_id": message.pk, "conversation_id": conversation.pk, "inbox_id": conversation.inbox_id,
         "replaced_by": None}
    ]  # fmt: skip
    [updated] = published.of("conversation.updated")
    assert set(updated["changed"]) == {"last_message_at", "last_message_preview", "needs_reply", "first_response_at"}
    assert updated["needs_reply"] is True


def test_undo_keeps_what_came_after_the_reply(conversation, agent, undo_window):
    # given a reply, then the customer writing again
    first = create(conversation, agent, text="It ships today.", token="one")
    create(conversation, agent, text="Tracking follows.", token="two")
    later = dm(conversation.inbox, CUSTOMER, text="Thanks!", at=timezone.now() + timedelta(seconds=1))
    dm_event_ingest(inbox=conversation.inbox, event=later)

    reply_cancel(message_id=first.pk, actor=agent)

    conversation.refresh_from_db()
    assert (conversation.last_message_preview, conversation.needs_reply) == ("Thanks!", True)
    second = Message.objects.get(text="Tracking follows.")
    assert conversation.first_response_at == second.occurred_at, "the other reply is now the first response"


def test_after_the_window_it_is_too_late(conversation, agent, undo_window):
    message = create(conversation, agent)
    window_over(message)

    with pytest.raises(ReplyError) as refused:
        reply_cancel(message_id=message.pk, actor=agent)

    assert str(refused.value) == "Too late to undo: it is already on its way to X."
    assert Message.objects.filter(pk=message.pk, delivery_state="queued").exists()


def test_once_claimed_it_is_too_late(conversation, agent, undo_window):
    message = create(conversation, agent)
    window_over(message)
    reply_mark_sending(message_id=message.pk)
    Message.objects.filter(pk=message.pk).update(send_after=timezone.now() + timedelta(seconds=5))

    with pytest.raises(ReplyError, match=TOO_LATE):
        reply_cancel(message_id=message.pk, actor=agent)


def test_a_reply_waiting_for_x_after_an_attempt_cannot_be_undone(conversation, agent, undo_window):
    # given a reply tried once and put back to wait for X's rate limit, far beyond its undo window
    message = create(conversation, agent)
    window_over(message)
    reply_mark_sending(message_id=message.pk)
    reply_requeue(message_id=message.pk, detail="X's rate limit", send_after=timezone.now() + timedelta(minutes=5))

    with pytest.raises(ReplyError, match=TOO_LATE):
        reply_cancel(message_id=message.pk, actor=agent)
    assert undo_deadline(Message.objects.get(pk=message.pk)) is None


def test_a_failed_reply_has_nothing_to_undo(conversation, agent, undo_window):
    message = create(conversation, agent)
    Message.objects.filter(pk=message.pk).update(delivery_state="failed")

    with pytest.raises(ReplyError, match="nothing to undo"):
        reply_cancel(message_id=message.pk, actor=agent)


def test_another_agent_cannot_undo_someone_s_reply(conversation, agent, undo_window):
    message = create(conversation, agent)
    colleague = make_agent()
    inbox_member_add(inbox=conversation.inbox, user=colleague)

    with pytest.raises(ReplyNotAllowed, match="Only the reply's author, a team lead or an admin"):
        reply_cancel(message_id=message.pk, actor=colleague)
    with pytest.raises(ReplyNotAllowed):
        reply_cancel(message_id=message.pk, actor=make_agent())  # not even in the inbox
    assert Message.objects.filter(pk=message.pk).exists()


@pytest.mark.parametrize("role", [User.Role.LEAD, User.Role.ADMIN])
def test_a_lead_or_an_admin_can_undo_an_agent_s_reply(conversation, agent, undo_window, role):
    message = create(conversation, agent)
    boss = make_agent(role=role)
    inbox_member_add(inbox=conversation.inbox, user=boss)

    reply_cancel(message_id=message.pk, actor=boss)

    assert not Message.objects.filter(pk=message.pk).exists()


def test_only_replies_written_here_can_be_undone(conversation, agent, undo_window):
    theirs = conversation.messages.get()

    with pytest.raises(ReplyError, match="Only a reply written here"):
        reply_cancel(message_id=theirs.pk, actor=agent)


# --- the view -----------------------------------------------------------------------------------------------------


def undo_url(conversation: Conversation, message_id: int) -> str:
    return reverse("inbox:undo", args=[conversation.pk, message_id])


def test_undo_view_answers_204_to_the_page_and_redirects_a_plain_form(client: Client, conversation, agent, undo_window):
    client.force_login(agent)
    first, second = create(conversation, agent, token="a"), create(conversation, agent, text="Again", token="b")

    fragment = client.post(undo_url(conversation, first.pk), headers={"X-Fragment": "1"})
    plain = client.post(undo_url(conversation, second.pk))

    assert fragment.status_code == 204 and fragment.content == b""
    assert plain.status_code == 302 and plain["Location"] == reverse("inbox:conversation", args=[conversation.pk])
    assert not Message.objects.filter(pk__in=[first.pk, second.pk]).exists()


def test_undo_view_refuses_too_late_with_400_and_the_reason(client: Client, conversation, agent, undo_window):
    client.force_login(agent)
    message = create(conversation, agent)
    window_over(message)

    response = client.post(undo_url(conversation, message.pk), headers={"X-Fragment": "1"})

    assert (response.status_code, response.content.decode()) == (400, TOO_LATE)


@pytest.mark.parametrize("who", ["colleague", "social manager"])
def test_undo_view_refuses_others_with_403(client: Client, conversation, agent, undo_window, who):
    message = create(conversation, agent)
    other = make_agent(role=User.Role.SOCIAL if who == "social manager" else User.Role.AGENT)
    inbox_member_add(inbox=conversation.inbox, user=other)
    client.force_login(other)

    response = client.post(undo_url(conversation, message.pk), headers={"X-Fragment": "1"})

    assert response.status_code == 403
    assert Message.objects.filter(pk=message.pk).exists()


def test_undo_view_is_404_for_what_is_not_a_reply_of_this_conversation(
    client: Client, conversation, agent, undo_window
):
    client.force_login(agent)
    message = create(conversation, agent)
    elsewhere = dm_event_ingest(inbox=conversation.inbox, event=dm(conversation.inbox, "99")).message.conversation
    question = conversation.messages.get(direction="inbound")

    for url in (
        undo_url(elsewhere, message.pk),  # another conversation's
        undo_url(conversation, question.pk),  # the customer's message
        undo_url(conversation, message.pk + 1000),  # no such message
        reverse("inbox:undo", args=[Conversation.objects.count() + 1000, message.pk]),  # no such conversation
    ):
        assert client.post(url, headers={"X-Fragment": "1"}).status_code == 404, url
    assert client.get(undo_url(conversation, message.pk)).status_code == 405
    assert Message.objects.filter(pk=message.pk).exists()


# --- with a real worker -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_undone_reply_never_reaches_x_even_with_a_worker_running(x_sandbox, workers, settings):  # noqa: F811
    # given a connected account, the customer's question, and a worker consuming the send queue
    account = connect_through_sandbox(x_sandbox)
    agent = make_agent()
    inbox_member_add(inbox=account.inbox, user=agent)
    customer_writes(x_sandbox)
    conversation = conversation_polled(account)
    worker = workers.start("undo")
    settings.X_REPLY_UNDO_SECONDS = 2

    # when the agent sends two replies and undoes one of them within the window
    undone = create(conversation, agent, text="Oops, wrong customer.", token="undo-1")
    kept = create(conversation, agent, text="It ships today.", token="undo-2")
    reply_cancel(message_id=undone.pk, actor=agent)

    # then after the window the worker sends the other one, and the undone one never reaches X
    def kept_sent() -> None:
        assert Message.objects.get(pk=kept.pk).delivery_state == "sent"

    worker.eventually(kept_sent, seconds=30)
    worker.eventually(lambda: _assert("'outcome': 'skipped'" in worker.log(), "the undone reply's task ran"))
    assert not Message.objects.filter(pk=undone.pk).exists()
    assert sent_by_business(x_sandbox) == 1
    time.sleep(0.5)
    assert sent_by_business(x_sandbox) == 1


def _assert(condition: bool, what: str) -> None:
    assert condition, what
