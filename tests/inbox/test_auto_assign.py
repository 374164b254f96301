"""Auto-assignment (round robin over online agents within capacity) and "assign to me" races, on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from celery import current_app
from channels.testing import WebsocketCommunicator
from django.db import connection

from accounts import online
from accounts.models import User
from accounts.services import presence_choice_set, presence_record
from config.asgi import application
from inbox.models import AutoAssignTurn, Conversation, Inbox
from inbox.services.assignment import AssignmentConflict, conversation_assign
from inbox.services.auto_assign import auto_assign_pending, eligible_agents
from inbox.services.conversations import conversation_status_set
from inbox.services.ingest import dm_event_ingest, dm_events_ingest
from tests.factories import BASE_TIME, dm, make_agent, make_inbox
from tests.inbox.test_consumers import session_cookie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_online_state")]

Status = Conversation.Status


@pytest.fixture(autouse=True)
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("Auto-assignment tests need PostgreSQL row locks; set DATABASE_URL.")


def go_online(agent: User, *, sockets: int = 1) -> None:
    presence_choice_set(user=agent, choice=User.PresenceChoice.AUTO)
    for n in range(sockets):
        online.agent_socket_opened(user_id=agent.pk, connection=f"test.{agent.pk}.{n}")


def auto_inbox(agents: list[User]) -> Inbox:
    inbox = make_inbox(members=tuple(agents))
    Inbox.objects.filter(pk=inbox.pk).update(auto_assign=True)
    inbox.refresh_from_db()
    return inbox


def new_conversation(inbox: Inbox, n: int) -> Conversation:
    result = dm_event_ingest(
        inbox=inbox, event=dm(inbox, str(3_000_000_000 + n), text=f"help {n}", at=BASE_TIME + timedelta(seconds=n))
    )
    return result.message.conversation


def open_counts(agents: list[User]) -> dict[int, int]:
    counts = Counter(
        Conversation.objects.filter(assignee__in=agents, status=Status.OPEN).values_list("assignee_id", flat=True)
    )
    return {agent.pk: counts.get(agent.pk, 0) for agent in agents}


def waiting(inbox: Inbox):
    return Conversation.objects.filter(inbox=inbox, assignee__isnull=True, status=Status.OPEN)


def run_together(n: int, work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    """Run ``work(i)`` in ``n`` real threads released at once; each thread has its own database connection."""
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results.append(work(i))
        except BaseException as exc:  # collected for the assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def test_round_robin_100_conversations_4_agents_capacity_10(published):
    # given: four online agents with capacity 10, in an inbox that auto-assigns
    agents = [make_agent() for _ in range(4)]
    inbox = auto_inbox(agents)
    for agent in agents:
        go_online(agent)

    # when: 100 conversations arrive (ingest enqueues inbox.auto_assign_pending; eager in tests)
    conversations = []
    for n in range(100):
        conversations.append(new_conversation(inbox, n))
        counts = open_counts(agents).values()
        # then, at every step: fair to within one, nobody over capacity
        assert max(counts) - min(counts) <= 1
        assert max(counts) <= 10

    # then: 10 each, the 40 oldest assigned, the 60 others wait in the queue
    assert open_counts(agents) == {agent.pk: 10 for agent in agents}
    assert waiting(inbox).count() == 60
    assigned = set(Conversation.objects.filter(inbox=inbox, assignee__isnull=False).values_list("pk", flat=True))
    assert assigned == {c.pk for c in conversations[:40]}
    assert published.of("notification.created")  # conversation_assign notified the agents
    assert Conversation.objects.get(pk=conversations[0].pk).assignee_id == agents[0].pk  # nobody had a turn: by id

    # when: conversations resolve one by one, the oldest waiting one goes to whoever freed capacity
    for step in range(60):
        agent = agents[step % 4]
        mine = Conversation.objects.filter(assignee=agent, status=Status.OPEN).order_by("pk").first()
        oldest_waiting = waiting(inbox).order_by("created_at", "pk").first()
        conversation_status_set(conversation_id=mine.pk, status=Status.RESOLVED, actor=agent)
        assert Conversation.objects.get(pk=oldest_waiting.pk).assignee_id == agent.pk
        assert max(open_counts(agents).values()) <= 10

    # then: every conversation was assigned, nobody over capacity, nothing waits
    assert waiting(inbox).count() == 0
    assert open_counts(agents) == {agent.pk: 10 for agent in agents}
    assert Conversation.objects.filter(inbox=inbox, assignee__isnull=True).count() == 0


def test_fair_within_one_when_capacity_is_not_the_limit(published):
    agents = [make_agent() for _ in range(4)]
    for agent in agents:
        User.objects.filter(pk=agent.pk).update(capacity=50)
    inbox = auto_inbox(agents)
    for agent in agents:
        go_online(agent)

    for n in range(10):
        new_conversation(inbox, n)

    assert sorted(open_counts(agents).values()) == [2, 2, 3, 3]
    assert AutoAssignTurn.objects.filter(inbox=inbox).count() == 4


def test_only_online_agents_with_a_socket_get_conversations(published):
    online_agent, away, no_socket, offline_toggle = (make_agent() for _ in range(4))
    inbox = auto_inbox([online_agent, away, no_socket, offline_toggle])
    go_online(online_agent, sockets=2)
    go_online(away)
    presence_choice_set(user=away, choice=User.PresenceChoice.AWAY)
    presence_choice_set(user=offline_toggle, choice=User.PresenceChoice.OFFLINE)
    online.agent_socket_opened(user_id=offline_toggle.pk, connection="test.offline")  # chose offline, page open

    assert [agent.pk for agent in eligible_agents(inbox_id=inbox.pk)] == [online_agent.pk]
    online.agent_socket_closed(user_id=online_agent.pk, connection=f"test.{online_agent.pk}.0")
    assert [agent.pk for agent in eligible_agents(inbox_id=inbox.pk)] == [online_agent.pk]  # one tab still open
    online.agent_socket_closed(user_id=online_agent.pk, connection=f"test.{online_agent.pk}.1")
    assert eligible_agents(inbox_id=inbox.pk) == []

    conversation = new_conversation(inbox, 1)
    assert Conversation.objects.get(pk=conversation.pk).assignee_id is None  # waits in the queue

    # when the agent comes back (the beat runs auto_assign_pending every minute)
    go_online(online_agent)
    assert auto_assign_pending(inbox_id=inbox.pk) == 1
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == online_agent.pk


def test_inbox_without_auto_assign_is_left_alone(published):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    go_online(agent)

    conversation = new_conversation(inbox, 1)

    assert Conversation.objects.get(pk=conversation.pk).assignee_id is None
    assert auto_assign_pending(inbox_id=inbox.pk) == 0


def test_unassigning_hands_the_conversation_out_again(published):
    first, second = make_agent(), make_agent()
    inbox = auto_inbox([first, second])
    go_online(first)
    conversation = new_conversation(inbox, 1)
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == first.pk
    go_online(second)

    conversation_assign(conversation_id=conversation.pk, assignee=None, actor=first)

    # the least recently auto-assigned agent (second: never) gets it back from the queue
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == second.pk


def test_simultaneous_auto_assign_workers_never_exceed_capacity(published):
    # given: 30 conversations waiting before auto-assignment was switched on, 4 agents of capacity 3
    agents = [make_agent() for _ in range(4)]
    for agent in agents:
        User.objects.filter(pk=agent.pk).update(capacity=3)
        go_online(agent)
    inbox = make_inbox(members=tuple(agents))
    for n in range(30):
        new_conversation(inbox, n)
    Inbox.objects.filter(pk=inbox.pk).update(auto_assign=True)

    # when: 8 workers run auto_assign_pending at the same moment
    results, errors = run_together(8, lambda _: auto_assign_pending(inbox_id=inbox.pk))

    # then: 12 assigned in all, 3 each, 18 wait
    assert errors == []
    assert sum(results) == 12
    assert open_counts(agents) == {agent.pk: 3 for agent in agents}
    assert waiting(inbox).count() == 18


def test_an_agent_in_two_inboxes_is_not_filled_past_capacity_by_two_workers(published):
    shared = make_agent()
    User.objects.filter(pk=shared.pk).update(capacity=5)
    go_online(shared)
    inboxes = [make_inbox(members=(shared,)), make_inbox(members=(shared,))]
    for i, inbox in enumerate(inboxes):
        for n in range(10):
            new_conversation(inbox, 100 * i + n)
    Inbox.objects.filter(pk__in=[inbox.pk for inbox in inboxes]).update(auto_assign=True)

    results, errors = run_together(6, lambda i: auto_assign_pending(inbox_id=inboxes[i % 2].pk))

    assert errors == []
    assert sum(results) == 5
    assert open_counts([shared]) == {shared.pk: 5}


@pytest.mark.parametrize("n_agents", [2, 8])
def test_simultaneous_assign_to_me_has_exactly_one_winner(published, n_agents):
    agents = [make_agent() for _ in range(n_agents)]
    inbox = make_inbox(members=tuple(agents))
    conversation = new_conversation(inbox, 1)

    def take(i: int) -> int:
        agent = agents[i]
        conversation_assign(conversation_id=conversation.pk, assignee=agent, actor=agent, expected_assignee_id=None)
        return agent.pk

    winners, errors = run_together(n_agents, take)

    assert len(winners) == 1
    winner = winners[0]
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == winner
    assert len(errors) == n_agents - 1
    for error in errors:
        assert isinstance(error, AssignmentConflict)
        assert error.current.pk == winner
        assert User.objects.get(pk=winner).display_name in str(error)
    assert len(published.of("conversation.updated")) == 1  # one assignment, one event


def test_a_batch_from_ingest_is_assigned_and_the_beat_task_catches_up(published, settings):
    agents = [make_agent() for _ in range(2)]
    inbox = auto_inbox(agents)
    go_online(agents[0])
    events = [dm(inbox, str(4_000_000_000 + n), at=BASE_TIME + timedelta(seconds=n)) for n in range(4)]

    dm_events_ingest(inbox=inbox, events=events)  # the batch path: one task for the batch

    assert open_counts(agents) == {agents[0].pk: 4, agents[1].pk: 0}
    go_online(agents[1])
    for n in range(4, 8):
        new_conversation(inbox, n)  # both online now: the one with no turn yet goes first, then in turn
    assert open_counts(agents) == {agents[0].pk: 6, agents[1].pk: 2}

    User.objects.filter(pk=agents[1].pk).update(capacity=2)
    new_conversation(inbox, 9)
    assert open_counts(agents)[agents[1].pk] == 2  # full: never over capacity

    # the beat: every auto-assigning inbox, by task name, as celery beat sends it
    assert settings.CELERY_BEAT_SCHEDULE["auto-assign-waiting-conversations"]["task"] == "inbox.auto_assign_all"
    assert current_app.tasks["inbox.auto_assign_all"].delay().get() == 0
    User.objects.filter(pk=agents[0].pk).update(capacity=20)
    assert current_app.tasks["inbox.auto_assign_all"].delay().get() == 0  # nothing waits: 9 went to agent 0
    assert waiting(inbox).count() == 0


def test_snoozing_frees_capacity_and_the_queue_moves(published):
    agent = make_agent()
    User.objects.filter(pk=agent.pk).update(capacity=1)
    inbox = auto_inbox([agent])
    go_online(agent)
    first, second = new_conversation(inbox, 1), new_conversation(inbox, 2)
    assert Conversation.objects.get(pk=second.pk).assignee_id is None

    conversation_status_set(conversation_id=first.pk, status=Status.PENDING, actor=agent)

    assert Conversation.objects.get(pk=second.pk).assignee_id == agent.pk


def test_presence_record_validates_and_stamps():
    agent = make_agent()
    assert presence_record(user=agent, presence=User.Presence.AWAY)
    assert not presence_record(user=agent, presence=User.Presence.AWAY)
    agent.refresh_from_db()
    assert agent.presence == User.Presence.AWAY
    assert agent.presence_changed_at is not None
    with pytest.raises(ValueError, match="Unknown presence"):
        presence_record(user=agent, presence="busy")
    with pytest.raises(ValueError, match="Unknown presence"):
        presence_choice_set(user=agent, choice="online")


def test_connections_without_redis_are_counted_in_this_process(settings):
    settings.REDIS_URL = ""
    online.agent_socket_opened(user_id=7, connection="a")
    online.agent_socket_opened(user_id=7, connection="b")
    online.agent_socket_closed(user_id=7, connection="a")
    assert online.users_connected([7, 8]) == {7}
    online.agent_socket_closed(user_id=7, connection="b")
    assert online.users_connected([7]) == set()


def test_connections_of_a_dead_server_expire(monkeypatch):
    online.agent_socket_opened(user_id=9, connection="dead-server.1")
    assert online.users_connected([9]) == {9}
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + online.CONNECTION_TTL + 1)  # nobody re-stamped it
    assert online.users_connected([9]) == set()


async def test_websocket_counts_the_agent_online_while_connected(published):
    agent = await sync_to_async(make_agent)()  # presence choice: auto, the default
    inbox = await sync_to_async(auto_inbox)([agent])
    cookie = await session_cookie_for(agent)

    communicator = WebsocketCommunicator(
        application, "/ws/inbox/", headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        await until(lambda: online.users_connected([agent.pk]) == {agent.pk})  # counted just after the accept
        eligible = await sync_to_async(eligible_agents)(inbox_id=inbox.pk)
        assert [a.pk for a in eligible] == [agent.pk]
    finally:
        await communicator.disconnect()

    await until(lambda: online.users_connected([agent.pk]) == set())


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await sync_to_async(condition)():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition did not become true in time")
