"""Exactly once in a busy conversation (issue 16), with real Celery workers, Redis, PostgreSQL and the X sandbox.

Every test counts from the customer's side of X: the sandbox, as the customer's own client reads the
conversation. Each text must be there exactly once, and every reply ``sent`` with that message's id.

- One "accepted then failed" send, then 80 replies in the same conversation: its retry must read past
  more than 50 newer messages of ours to find it (it was sent twice when only the 50 newest were read).
- X failing about 20% of the sends, with all six kinds of fault, in one conversation and across many.
- X finishing sends 9 s after our client gave up on them: the retry must not look before then.
- A worker killed with SIGKILL in the middle of sending, three times, with 80 replies in one conversation.

The workers wait 1 s for X's answers (``X_READ_TIMEOUT``) and ``X_SEND_VISIBILITY_MARGIN`` is 3 s, so
retries come after 7.5-15 s (the backoff) and the sweeper's lease is 5 × (1 + 1) + 3 = 13 s. The sweeper
runs in the test process, as beat would (more often), with the same settings. X's rate limits are
raised out of the way: these tests are about faults, not budgets.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest

from accounts.models import User
from inbox.models import Conversation, Message
from inbox.services.inboxes import inbox_member_add
from inbox.services.replies import reply_create, reply_retry
from tests.celery_worker import CeleryWorker
from tests.factories import make_agent
from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
from tests.twitter_channel.outbound.reply_world import (
    business_messages,
    customer_writes,
    fault,
    faults_left,
    sent_by_business,
)
from tests.twitter_channel.worker_processes import Workers, workers_fixture  # noqa: F401
from tests.xsandbox import Sandbox
from twitter_channel.inbound.sync import account_poll
from twitter_channel.models import XAccount
from twitter_channel.outbound import reconcile, sending

pytestmark = pytest.mark.django_db(transaction=True)

WITH_PATH = "/2/dm_conversations/with/"  # every one-to-one send (and its lookups, with GET)
RAN_OUT_OF_ATTEMPTS = f"X did not answer after {sending.MAX_ATTEMPTS} attempts"
FAST_X = {"X_CONNECT_TIMEOUT": "1", "X_READ_TIMEOUT": "1", "X_SEND_VISIBILITY_MARGIN": "3"}
# The six kinds of fault on sends and their share (whole percents: the sandbox takes no fractions), each
# drawn in turn: 1 - 0.96^4 × 0.97^2 = 20.1% of the POSTs fail. "hang" answers after 2 s, after our client
# gave up (and does the work); "accept_then_fail" does the work and answers 503.
SEND_FAULTS = [("429", 4, {"seconds": 1}), ("500", 4, {}), ("503", 4, {}), ("hang", 4, {"seconds": 2}),
               ("reset", 3, {}), ("accept_then_fail", 3, {})]  # fmt: skip


@pytest.fixture
def fast_x(settings) -> dict[str, str]:
    """The workers' X timeouts and margin, here too (the sweeper's lease); no undo window. The workers' env."""
    for name, value in FAST_X.items():
        setattr(settings, name, float(value))
    settings.X_REPLY_UNDO_SECONDS = 0
    return dict(FAST_X)


def connected(sandbox: Sandbox, customers: list[str]) -> tuple[XAccount, User, list[Conversation]]:
    """@AcmeSupport connected, an agent of its inbox, and a conversation with each customer (who wrote first),
    with X's limits (the sandbox's and ours) raised out of the way."""
    for endpoint, scope, windows in [("dm_post", "user", [[900, 100_000]]), ("dm_post", "app", [[86400, 100_000]]),
                                     ("dm_get", "user", [[900, 100_000]])]:  # fmt: skip
        sandbox.control("POST", "rate-limits", {"endpoint": endpoint, "scope": scope, "windows": windows})
    existing = {user["username"] for user in sandbox.control("GET", "users")}
    for customer in customers:
        if customer not in existing:
            sandbox.control("POST", "users", {"username": customer, "name": customer.title()})
        customer_writes(sandbox, f"Hello from {customer}", customer=customer)
    account = connect_through_sandbox(sandbox)
    XAccount.objects.filter(pk=account.pk).update(dm_limits="900:100000,86400:100000")
    assert account_poll(account_id=account.pk).complete
    agent = make_agent(name="Sam Support")
    inbox_member_add(inbox=account.inbox, user=agent)
    conversations = [Message.objects.get(text=f"Hello from {c}").conversation for c in customers]
    return account, agent, conversations


def replies_queued(agent: User, conversations: list[Conversation], per_conversation: int) -> dict[str, list[str]]:
    """``per_conversation`` replies in each conversation, queued at once; their texts by conversation."""
    texts: dict[str, list[str]] = {}
    for conversation in conversations:
        texts[conversation.x_conversation_id] = []
        for n in range(per_conversation):
            text = f"Update {n:03} for conversation {conversation.pk}"
            reply_create(
                conversation_id=conversation.pk, author=agent, text=text, client_token=f"{conversation.pk}-{n}"
            )
            texts[conversation.x_conversation_id].append(text)
    return texts


def all_sent(
    worker: CeleryWorker, agent: User, count: int, *, seconds: float, grace: timedelta | None = None,
    agent_sends_again: bool = False,
) -> int:  # fmt: skip
    """Wait until the agent's ``count`` replies are ``sent``, sweeping as beat would; none may fail, except with
    ``agent_sends_again``; return how many the agent sent again.

    With a fifth of X's answers failing, a reply now and then meets ``MAX_ATTEMPTS`` failures in a row (about
    one reply in 2,000: its POSTs and the look-ups before them all failing) and is marked failed, telling the
    agent it may have reached the customer. With ``agent_sends_again`` the agent then presses "Send again", as
    the page offers, and that path must still put it on X once; a reply failed for any other reason fails.
    """
    sent_again: list[int] = []

    def check() -> None:
        reconcile.replies_sweep(**({"grace": grace} if grace is not None else {}))
        failed = Message.objects.filter(sender_agent=agent, delivery_state="failed")
        for message in failed:
            assert agent_sends_again, list(failed.values_list("text", "error_detail")[:5])
            assert message.error_detail.startswith(RAN_OUT_OF_ATTEMPTS), (message.text, message.error_detail)
            reply_retry(message_id=message.pk, actor=agent)
            sent_again.append(message.pk)
        states = Counter(Message.objects.filter(sender_agent=agent).values_list("delivery_state", flat=True))
        assert states == {"sent": count}, dict(states)

    worker.eventually(check, seconds=seconds, interval=1)
    return len(sent_again)


def assert_exactly_once_at_x(sandbox: Sandbox, agent: User, customers: list[str], texts: dict[str, list[str]]) -> None:
    """Each customer has each reply of their conversation exactly once, and each reply is recorded with it."""
    sandbox.control("DELETE", "faults")
    recorded = dict(Message.objects.filter(sender_agent=agent).values_list("text", "x_event_id"))
    for customer, conversation_texts in zip(customers, texts.values(), strict=True):
        at_x = business_messages(sandbox, customer=customer)
        got = Counter(event.text for event in at_x)
        duplicates = {text: n for text, n in got.items() if n > 1}
        lost = [text for text in conversation_texts if got[text] == 0]
        assert (duplicates, lost) == ({}, []), f"{customer}: {len(duplicates)} sent twice or more, {len(lost)} lost"
        assert got == Counter(conversation_texts), got - Counter(conversation_texts)
        assert {event.text: event.id for event in at_x} == {t: recorded[t] for t in conversation_texts}
    assert sent_by_business(sandbox) == sum(len(t) for t in texts.values())


def retries_in(workers: list[CeleryWorker]) -> int:
    return sum(len(re.findall(r"twitter_channel\.reply_send\[[^\]]+\] retry: Retry at", w.log())) for w in workers)


def test_eighty_replies_after_a_send_x_took_but_failed_reach_the_customer_once(x_sandbox, workers: Workers, fast_x):
    # given X taking the first send of the conversation but answering 503 (the reproduction)
    _, agent, conversations = connected(x_sandbox, ["maria_codes"])
    fault(x_sandbox, "accept_then_fail", path=WITH_PATH)
    started = [workers.start(f"w{n}", env=fast_x) for n in range(2)]

    # when the agent sends 80 replies in that conversation: its retry, 7.5-15 s later, finds more than 50
    # of them sent after it on X
    texts = replies_queued(agent, conversations, 80)

    # then every one reached the customer exactly once
    all_sent(started[0], agent, 80, seconds=120)
    assert faults_left(x_sandbox) == [], "the fault fired"
    assert_exactly_once_at_x(x_sandbox, agent, ["maria_codes"], texts)


@pytest.mark.parametrize(
    ("customers", "per_conversation"),
    [(["maria_codes"], 60), ([f"customer_{n}" for n in range(12)], 5)],
    ids=["60 replies in one conversation", "5 replies in each of 12 conversations"],
)
def test_every_reply_reaches_the_customer_once_while_x_fails_a_fifth_of_the_sends(
    x_sandbox, workers: Workers, fast_x, customers: list[str], per_conversation: int
):
    # given X failing about 20% of the sends with all six kinds of fault, and some of the lookups too
    _, agent, conversations = connected(x_sandbox, customers)
    for kind, percent, extra in SEND_FAULTS:
        fault(x_sandbox, kind, path=WITH_PATH, percent=percent, **extra)
    fault(x_sandbox, "500", path=WITH_PATH, method="GET", percent=10)
    fault(x_sandbox, "429", path=WITH_PATH, method="GET", percent=5, seconds=1)
    started = [workers.start(f"w{n}", concurrency=2, env=fast_x) for n in range(2)]

    # when the agent sends the replies
    texts = replies_queued(agent, conversations, per_conversation)

    # then every one is sent, and reached its customer exactly once
    total = len(customers) * per_conversation
    sent_again = all_sent(started[0], agent, total, seconds=240, agent_sends_again=True)
    assert_exactly_once_at_x(x_sandbox, agent, customers, texts)
    retried = retries_in(started)
    assert retried > 0, "X's failures were met with retries"
    print(
        f"\n{total} replies in {len(customers)} conversation(s), {retried} task retries, {sent_again} sent again "
        "by the agent after running out of attempts, each at X exactly once"
    )


def test_sends_x_finishes_long_after_our_client_gave_up_are_not_sent_again(
    x_sandbox, workers: Workers, fast_x, settings
):
    # given X taking 10 s over each of the next 10 sends, which our client gives up on after 1 s: X finishes
    # each 9 s later, within the backoff of a retry (7.5-15 s) but before X_SEND_VISIBILITY_MARGIN (20 s here)
    margin = {**fast_x, "X_SEND_VISIBILITY_MARGIN": "20"}
    settings.X_SEND_VISIBILITY_MARGIN = 20.0
    _, agent, conversations = connected(x_sandbox, ["maria_codes"])
    fault(x_sandbox, "hang", path=WITH_PATH, count=10, seconds=10)
    started = [workers.start(f"w{n}", concurrency=2, env=margin) for n in range(2)]

    # when the agent sends 10 replies
    texts = replies_queued(agent, conversations, 10)

    # then each retry waited for X to finish, found the reply there, and sent nothing again
    all_sent(started[0], agent, 10, seconds=120)
    assert faults_left(x_sandbox) == [], "every send hung"
    assert_exactly_once_at_x(x_sandbox, agent, ["maria_codes"], texts)
    found = sum(w.log().count("had reached X as") for w in started)
    assert found == 10, f"{found} of the 10 retries found their reply on X"


def test_a_worker_killed_mid_send_three_times_loses_and_doubles_nothing(x_sandbox, workers: Workers, fast_x, settings):
    # given a worker (two processes) that waits 3 s for X's answers, so it can be killed while X takes a
    # POST (hung for 2 s, finished at X after the worker is gone); the lease is 5 × (1 + 3) + 3 = 23 s
    env = {**fast_x, "X_READ_TIMEOUT": "3"}
    settings.X_READ_TIMEOUT = 3.0
    _, agent, conversations = connected(x_sandbox, ["maria_codes"])
    worker = workers.start("w0", concurrency=2, env=env)

    # when the agent sends 80 replies, and the worker is killed with SIGKILL three times: during a POST
    # X is still taking, at whatever moment, and during a POST again; a new worker starts each time
    texts = replies_queued(agent, conversations, 80)
    for n, (after_sent, during_post) in enumerate([(3, True), (20, False), (40, True)], start=1):
        worker.eventually(lambda count=after_sent: _at_least_sent(agent, count), seconds=120)
        if during_post:
            fault(x_sandbox, "hang", path=WITH_PATH, count=1, seconds=2)
            worker.eventually(lambda: _check(faults_left(x_sandbox) == [], "a POST hanging at X"), interval=0.02)
        workers.kill(worker)
        worker = workers.start(f"w{n}", concurrency=2, env=env)

    # then, with the sweeper reconciling the killed attempts after their lease and enqueueing the tasks the
    # dead worker held (after a grace of 15 s here, 60 s in production), every reply reached X exactly once
    all_sent(worker, agent, 80, seconds=240, grace=timedelta(seconds=15))
    assert_exactly_once_at_x(x_sandbox, agent, ["maria_codes"], texts)


def _at_least_sent(agent: User, count: int) -> None:
    sent = Message.objects.filter(sender_agent=agent, delivery_state="sent").count()
    assert sent >= count, f"{sent} sent, waiting for {count}"


def _check(condition: bool, what: str) -> None:
    assert condition, f"not yet: {what}"
