"""Exactly once across crashes, with real Celery worker processes, Redis, PostgreSQL and the X sandbox.

A worker is killed with SIGKILL in the middle of a send: before X has the message, while X is taking it
(X finishes after the worker is gone), and after X accepted it but before we recorded it. A new worker and
the sweeper then bring the reply to ``sent`` with X's event id, and X has it once. (Many replies in one
conversation, X's faults and repeated kills: tests/twitter_channel/outbound/test_exactly_once_workers.py.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from inbox.models import Conversation, Message
from inbox.services.inboxes import inbox_member_add
from inbox.services.replies import reply_create
from tests.factories import make_agent
from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
from tests.twitter_channel.outbound.reply_world import (
    UPLOAD_PATH,
    business_messages,
    conversation_polled,
    customer_writes,
    fault,
    faults_left,
    sent_by_business,
)
from tests.twitter_channel.worker_processes import Workers, redeliver, workers_fixture  # noqa: F401
from tests.twitter_channel.x.client_sandbox import png
from tests.xsandbox import Sandbox
from twitter_channel.outbound import reconcile

pytestmark = pytest.mark.django_db(transaction=True)

HANG = 3.0  # seconds X takes over a request in the tests that kill a worker during one
LEASE = timedelta(seconds=HANG + 2)  # the rule: longer than any request of the attempt may still take at X


@dataclass
class World:
    sandbox: Sandbox
    agent: User
    conversation: Conversation


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    # the workers read our copy of an attachment from the same folder
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def world(x_sandbox: Sandbox, workers: Workers, published) -> World:
    account = connect_through_sandbox(x_sandbox)
    agent = make_agent(name="Sam Support")
    inbox_member_add(inbox=account.inbox, user=agent)
    customer_writes(x_sandbox)
    return World(sandbox=x_sandbox, agent=agent, conversation=conversation_polled(account))


def worker_env(media_root) -> dict[str, str]:
    return {"DJANGO_MEDIA_ROOT": str(media_root)}


def state(message: Message) -> str:
    return Message.objects.get(pk=message.pk).delivery_state


class ConversationLock:
    """Holds the conversation's row lock from another connection, as a long transaction would:
    ``reply_mark_sent`` (which takes it) waits, after X has accepted the message."""

    def __init__(self, conversation_id: int) -> None:
        self.held, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, args=(conversation_id,), daemon=True)

    def _hold(self, conversation_id: int) -> None:
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(pk=conversation_id)
                self.held.set()
                self.release.wait(60)
        finally:
            connection.close()

    def __enter__(self) -> ConversationLock:
        self.thread.start()
        assert self.held.wait(10), "could not lock the conversation"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


@pytest.mark.parametrize("moment", ["before X has it", "while X takes it", "after X accepted it"])
def test_a_worker_killed_mid_send_then_a_new_worker_and_the_sweeper_send_it_exactly_once(
    world: World,
    workers: Workers,
    settings,
    media_root,
    moment: str,
):
    sandbox, text = world.sandbox, f"Your refund is on its way ({moment})."
    first = workers.start("first", env=worker_env(media_root))
    lock = None

    # given a worker in the middle of sending a reply, at the moment named
    if moment == "before X has it":  # uploading the reply's image, which X takes a while over
        fault(sandbox, "hang", path=UPLOAD_PATH, seconds=HANG * 2)
        settings.X_REPLY_UNDO_SECONDS = 0
        image = SimpleUploadedFile("label.png", png(), content_type="image/png")
        message = reply_create(conversation_id=world.conversation.pk, author=world.agent, text=text,
                               client_token="kill-1", attachment=image)  # fmt: skip
        first.eventually(lambda: _check(faults_left(sandbox) == [] and state(message) == "sending", "uploading"))
    elif moment == "while X takes it":  # the POST has reached X, which answers after HANG seconds
        fault(sandbox, "hang", seconds=HANG)
        settings.X_REPLY_UNDO_SECONDS = 0
        message = reply_create(conversation_id=world.conversation.pk, author=world.agent, text=text,
                               client_token="kill-2")  # fmt: skip
        first.eventually(lambda: _check(faults_left(sandbox) == [] and state(message) == "sending", "posting"))
    else:  # X accepted it; recording it waits for the conversation's lock, held elsewhere
        settings.X_REPLY_UNDO_SECONDS = 1  # time enough to take the lock before the task claims the reply
        message = reply_create(conversation_id=world.conversation.pk, author=world.agent, text=text,
                               client_token="kill-3")  # fmt: skip
        lock = ConversationLock(world.conversation.pk).__enter__()
        first.eventually(lambda: _check(sent_by_business(sandbox) == 1 and state(message) == "sending", "accepted"))
        time.sleep(0.3)  # now waiting for the lock in reply_mark_sent

    # when the worker is killed with SIGKILL
    workers.kill(first)
    if lock is not None:
        lock.__exit__()
    assert state(message) == "sending", "the dead attempt recorded nothing"
    assert sent_by_business(sandbox) == (1 if moment == "after X accepted it" else 0)

    # then the sweeper concludes nothing within the lease (X may still be taking the POST)
    early = reconcile.replies_sweep()
    assert (early.found, early.resent, early.later, early.failed) == (0, 0, 0, 0)
    assert state(message) == "sending"
    if moment == "while X takes it":
        _wait(lambda: sent_by_business(sandbox) == 1, "X finishing the POST of the dead worker")
    accepted = sent_by_business(sandbox)

    # and when a new worker starts, to which Redis hands the dead worker's task again (redelivery),
    # that task sends nothing: the reply is "sending", so the sweeper owns it
    second = workers.start("second", env=worker_env(media_root))
    redeliver()
    second.eventually(lambda: _check("'outcome': 'skipped'" in second.log(), "the redelivered task ran"))
    assert state(message) == "sending" and sent_by_business(sandbox) == accepted, "it sent nothing"
    claimed_at = Message.objects.get(pk=message.pk).send_claimed_at
    time.sleep(max(0.0, (claimed_at + LEASE - timezone.now()).total_seconds()) + 0.2)

    # and after it, reconciles the reply with X: found if X has it, else sent again by the new worker
    result = reconcile.replies_sweep(lease=LEASE)
    assert (result.found, result.resent) == ((0, 1) if moment == "before X has it" else (1, 0))

    def sent() -> Message:
        current = Message.objects.get(pk=message.pk)
        assert current.delivery_state == "sent", (current.delivery_state, current.error_detail)
        return current

    done = second.eventually(sent, seconds=30)
    at_x = business_messages(sandbox)
    assert [(e.id, e.text) for e in at_x] == [(done.x_event_id, text)], "exactly once, with X's event id"
    assert done.send_claimed_at is None and done.error_detail == ""
    if moment == "before X has it":
        assert len(at_x[0].media) == 1, "with its image"


def _check(condition: bool, what: str) -> None:
    assert condition, f"not yet: {what}"


def _wait(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still not: {what}"
        time.sleep(0.1)
