"""inbox.services.staffing: agents' roles and memberships, deactivation handing conversations back, teams, inboxes."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from celery import current_app
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import Team, TeamMembership, User
from config.asgi import application
from inbox.consumers import CLOSE_RECONNECT, CLOSE_UNAUTHENTICATED
from inbox.models import Conversation, ConversationEvent, Inbox, InboxMembership
from inbox.services import staffing
from inbox.services.assignment import PENDING_TASK, conversation_assign
from inbox.services.ingest import dm_event_ingest
from inbox.services.staffing import ManagementError
from tests.factories import PASSWORD, dm, make_agent, make_inbox, make_team
from tests.helpers import inbox_socket, session_cookie

pytestmark = pytest.mark.django_db

Status = Conversation.Status


@pytest.fixture
def admin() -> User:
    return make_agent(role=User.Role.ADMIN, name="Ada Admin")


@pytest.fixture
def auto_assign_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The inbox ids auto-assignment was enqueued for (the task itself is not run)."""
    enqueued: list[int] = []
    monkeypatch.setattr(current_app.tasks[PENDING_TASK], "delay", enqueued.append)
    return enqueued


def conversation_of(inbox: Inbox, customer: str, *, assignee: User, status: str = Status.OPEN) -> Conversation:
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, customer)).message.conversation
    conversation_assign(conversation_id=conversation.pk, assignee=assignee, actor=None)
    Conversation.objects.filter(pk=conversation.pk).update(status=status)
    conversation.refresh_from_db()
    return conversation


# Deactivation ----------------------------------------------------------------------------------


def test_deactivation_returns_unresolved_conversations_to_the_queue_with_activity_rows_and_events(
    admin, published, django_capture_on_commit_callbacks
):
    # given an agent holding an open, a pending and a resolved conversation, one of them with a team
    agent, colleague = make_agent(name="Sam"), make_agent()
    team = make_team(members=(agent,))
    inbox = make_inbox(members=(agent, colleague))
    open_one = conversation_of(inbox, "2001", assignee=agent)
    pending = conversation_of(inbox, "2002", assignee=agent, status=Status.PENDING)
    resolved = conversation_of(inbox, "2003", assignee=agent, status=Status.RESOLVED)
    others = conversation_of(inbox, "2004", assignee=colleague)
    Conversation.objects.filter(pk=open_one.pk).update(team=team)
    published.clear()

    # when an admin deactivates the agent
    with django_capture_on_commit_callbacks(execute=True):
        released = staffing.agent_deactivate(user=agent, actor=admin)

    # then they are out, and the two unresolved conversations wait unassigned, team kept
    agent.refresh_from_db()
    assert released == 2
    assert (agent.is_active, agent.presence) == (False, User.Presence.OFFLINE)
    assert Conversation.objects.get(pk=open_one.pk).assignee_id is None
    assert Conversation.objects.get(pk=open_one.pk).team_id == team.pk
    assert Conversation.objects.get(pk=pending.pk).assignee_id is None
    assert Conversation.objects.get(pk=resolved.pk).assignee_id == agent.pk
    assert Conversation.objects.get(pk=others.pk).assignee_id == colleague.pk
    rows = ConversationEvent.objects.filter(kind=ConversationEvent.Kind.ASSIGNED, actor=admin)
    assert sorted(rows.values_list("conversation_id", flat=True)) == sorted([open_one.pk, pending.pk])
    assert {(row.parameters["old_assignee_id"], row.parameters["new_assignee_id"]) for row in rows} == {
        (agent.pk, None)
    }
    updates = published.of("conversation.updated")
    assert sorted(data["conversation_id"] for data in updates) == sorted([open_one.pk, pending.pk])
    assert all(data["assignee_id"] is None and data["changed"] == ["assignee_id"] for data in updates)


def test_deactivation_runs_auto_assignment_for_the_inboxes_that_have_it(
    admin, auto_assign_runs, django_capture_on_commit_callbacks
):
    # given an agent with conversations in an inbox with auto-assignment and one without
    agent = make_agent()
    automatic, manual = make_inbox(members=(agent,)), make_inbox(members=(agent,))
    Inbox.objects.filter(pk=automatic.pk).update(auto_assign=True)
    automatic.refresh_from_db()
    conversation_of(automatic, "2101", assignee=agent)
    conversation_of(manual, "2102", assignee=agent)
    auto_assign_runs.clear()

    # when they are deactivated
    with django_capture_on_commit_callbacks(execute=True):
        staffing.agent_deactivate(user=agent, actor=admin)

    # then auto-assignment ran for the automatic inbox only
    assert set(auto_assign_runs) == {automatic.pk}


def test_a_deactivated_agent_is_no_longer_assignable(admin):
    # given a deactivated member of an inbox
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "2201")).message.conversation
    staffing.agent_deactivate(user=agent, actor=admin)

    # when an admin picks them (as the assign view does, from the database), then it is refused
    with pytest.raises(ValueError, match="not a member"):
        conversation_assign(conversation_id=conversation.pk, assignee=User.objects.get(pk=agent.pk), actor=admin)


def test_a_deactivated_agents_session_stops_working_at_once(admin):
    # given an agent logged in
    agent = make_agent()
    client = Client()
    client.force_login(agent)
    assert client.get("/").status_code == 200

    # when an admin deactivates them
    staffing.agent_deactivate(user=agent, actor=admin)

    # then their next request is anonymous (ModelBackend.get_user loads no inactive user)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_deactivated_agent_cannot_log_in_again(admin, client):
    agent = make_agent(email="gone@example.test")
    staffing.agent_deactivate(user=agent, actor=admin)

    client.post("/accounts/login/", {"login": "gone@example.test", "password": PASSWORD})

    assert not client.get("/").wsgi_request.user.is_authenticated


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_refuses_a_deactivated_agent():
    # given an agent with a session, deactivated afterwards
    admin = await sync_to_async(make_agent)(role=User.Role.ADMIN)
    agent = await sync_to_async(make_agent)()
    cookie = await sync_to_async(session_cookie)(agent)
    await sync_to_async(staffing.agent_deactivate)(user=agent, actor=admin)

    # when they open the inbox websocket
    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    closed = await communicator.receive_output(timeout=5)
    await communicator.disconnect()

    # then it is closed on them, after accepting so that the page sees the code and goes to the login page
    assert connected
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


@pytest.mark.django_db(transaction=True)
async def test_an_open_websocket_is_closed_when_its_agent_is_deactivated_or_given_an_inbox():
    admin = await sync_to_async(make_agent)(role=User.Role.ADMIN)
    leaving, joining = await sync_to_async(make_agent)(), await sync_to_async(make_agent)()
    inbox = await sync_to_async(make_inbox)(members=(leaving,))
    sockets = {}
    for user in (leaving, joining):
        sockets[user.pk] = await inbox_socket(await sync_to_async(session_cookie)(user))

    await sync_to_async(staffing.inbox_members_set)(inbox=inbox, actor=admin, user_ids=[leaving.pk, joining.pk])
    closed = await sockets[joining.pk].receive_output(timeout=5)
    await sync_to_async(staffing.agent_deactivate)(user=leaving, actor=admin)
    gone = await sockets[leaving.pk].receive_output(timeout=5)

    assert closed == {"type": "websocket.close", "code": CLOSE_RECONNECT}
    assert gone == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    for socket in sockets.values():
        await socket.disconnect()


def test_deactivating_twice_only_finishes_the_sweep(admin):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    staffing.agent_deactivate(user=agent, actor=admin)
    # a conversation left assigned (e.g. the first sweep was interrupted)
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "2301")).message.conversation
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)

    assert staffing.agent_deactivate(user=agent, actor=admin) == 1
    assert Conversation.objects.get(pk=conversation.pk).assignee_id is None


def test_reactivation_lets_them_in_again_without_their_old_conversations(admin):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    conversation = conversation_of(inbox, "2401", assignee=agent)
    staffing.agent_deactivate(user=agent, actor=admin)

    staffing.agent_reactivate(user=agent, actor=admin)

    agent.refresh_from_db()
    assert agent.is_active and agent.presence == User.Presence.OFFLINE
    assert Conversation.objects.get(pk=conversation.pk).assignee_id is None
    assert InboxMembership.objects.filter(user=agent, inbox=inbox).exists()


# Guards ----------------------------------------------------------------------------------------


def test_an_admin_cannot_deactivate_themselves(admin):
    make_agent(role=User.Role.ADMIN)

    with pytest.raises(ManagementError, match="You cannot deactivate yourself"):
        staffing.agent_deactivate(user=admin, actor=admin)

    admin.refresh_from_db()
    assert admin.is_active


def test_an_admin_cannot_demote_themselves(admin):
    make_agent(role=User.Role.ADMIN)

    with pytest.raises(ManagementError, match="You cannot demote yourself") as refused:
        staffing.agent_update(user=admin, actor=admin, name="Ada", role=User.Role.LEAD, capacity=5)

    admin.refresh_from_db()
    assert admin.role == User.Role.ADMIN and admin.name == "Ada Admin"
    assert refused.value.field == "role"


def test_an_admin_may_edit_their_own_name_and_capacity(admin):
    staffing.agent_update(user=admin, actor=admin, name="  Ada   Lovelace ", role=User.Role.ADMIN, capacity=3)

    admin.refresh_from_db()
    assert (admin.name, admin.role, admin.capacity) == ("Ada Lovelace", User.Role.ADMIN, 3)


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(admin):
    # given two admins, each about to act on the other: one deactivation goes through first
    other = make_agent(role=User.Role.ADMIN, name="Otto")
    stale_view_of_admin = User.objects.get(pk=admin.pk)
    staffing.agent_deactivate(user=admin, actor=other)

    # when the other one's change arrives (it was sent before the page knew), then it is refused
    with pytest.raises(ManagementError, match="Otto is the last active admin"):
        staffing.agent_deactivate(user=other, actor=stale_view_of_admin)
    with pytest.raises(ManagementError, match="Otto is the last active admin"):
        staffing.agent_update(user=other, actor=stale_view_of_admin, name="Otto", role=User.Role.AGENT, capacity=1)
    other.refresh_from_db()
    assert other.is_active and other.role == User.Role.ADMIN


def test_another_admin_can_be_demoted_and_deactivated_while_one_remains(admin):
    other = make_agent(role=User.Role.ADMIN)

    staffing.agent_update(user=other, actor=admin, name="Otto", role=User.Role.LEAD, capacity=4)
    staffing.agent_deactivate(user=other, actor=admin)

    other.refresh_from_db()
    assert (other.role, other.is_active) == (User.Role.LEAD, False)


@pytest.mark.parametrize("role", [User.Role.LEAD, User.Role.AGENT, User.Role.SOCIAL])
def test_only_admins_manage(role):
    actor, agent = make_agent(role=role), make_agent()

    with pytest.raises(ManagementError, match="Only admins"):
        staffing.agent_deactivate(user=agent, actor=actor)
    with pytest.raises(ManagementError, match="Only admins"):
        staffing.team_create(name="Night shift", actor=actor)


def test_bad_values_are_refused_with_the_field_they_are_about(admin):
    agent = make_agent()

    with pytest.raises(ManagementError, match="Unknown role 'boss'") as bad_role:
        staffing.agent_update(user=agent, actor=admin, name="", role="boss", capacity=1)
    with pytest.raises(ManagementError, match="between 0 and 1000") as bad_capacity:
        staffing.agent_update(user=agent, actor=admin, name="", role=User.Role.AGENT, capacity=5000)
    with pytest.raises(ManagementError, match="No team with id 987654") as bad_team:
        staffing.agent_memberships_set(user=agent, actor=admin, team_ids=[987654], inbox_ids=[])

    assert (bad_role.value.field, bad_capacity.value.field, bad_team.value.field) == ("role", "capacity", "teams")


# Memberships -----------------------------------------------------------------------------------


def test_memberships_are_set_exactly_and_lost_inboxes_hand_back_their_conversations(admin):
    # given an agent working inbox A directly and inbox B through a team, a conversation in each
    agent = make_agent()
    a, b, c = make_inbox(members=(agent,)), make_inbox(), make_inbox()
    team = make_team(members=(agent,))
    b.teams.add(team)
    in_a, in_b = conversation_of(a, "2501", assignee=agent), conversation_of(b, "2502", assignee=agent)

    # when their memberships become: no team, inboxes A and C
    staffing.agent_memberships_set(user=agent, actor=admin, team_ids=[], inbox_ids=[a.pk, c.pk])

    # then
    assert set(InboxMembership.objects.filter(user=agent).values_list("inbox_id", flat=True)) == {a.pk, c.pk}
    assert not TeamMembership.objects.filter(user=agent).exists()
    assert Conversation.objects.get(pk=in_a.pk).assignee_id == agent.pk
    assert Conversation.objects.get(pk=in_b.pk).assignee_id is None
    assert ConversationEvent.objects.filter(conversation=in_b, kind="assigned", actor=admin).exists()


def test_becoming_a_social_manager_hands_back_conversations(admin):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    conversation = conversation_of(inbox, "2601", assignee=agent)

    staffing.agent_update(user=agent, actor=admin, name="Sol", role=User.Role.SOCIAL, capacity=10)

    assert Conversation.objects.get(pk=conversation.pk).assignee_id is None


def test_an_admin_keeps_conversations_of_inboxes_they_are_not_a_member_of(admin):
    inbox = make_inbox()
    conversation = conversation_of(inbox, "2701", assignee=admin)

    staffing.agent_memberships_set(user=admin, actor=admin, team_ids=[], inbox_ids=[])

    assert Conversation.objects.get(pk=conversation.pk).assignee_id == admin.pk


# Teams -----------------------------------------------------------------------------------------


def test_team_names_are_unique_whatever_their_case(admin):
    staffing.team_create(name="  Night   shift ", actor=admin)

    with pytest.raises(ManagementError, match="already a team named 'night shift'") as refused:
        staffing.team_create(name="night shift", actor=admin)
    with pytest.raises(ManagementError, match="Give the team a name"):
        staffing.team_create(name="   ", actor=admin)
    assert refused.value.field == "name"
    assert list(Team.objects.values_list("name", flat=True)) == ["Night shift"]


def test_a_team_can_be_renamed_but_not_onto_another(admin):
    day, night = staffing.team_create(name="Day", actor=admin), staffing.team_create(name="Night", actor=admin)

    staffing.team_rename(team=day, actor=admin, name="Early")
    with pytest.raises(ManagementError, match="already a team named 'EARLY'"):
        staffing.team_rename(team=night, actor=admin, name="EARLY")

    assert sorted(Team.objects.values_list("name", flat=True)) == ["Early", "Night"]


def test_team_members_and_inboxes_are_set_and_removed_members_hand_back_conversations(admin):
    # given a team of two working one inbox, one of them holding a conversation there
    stays, leaves, joins = make_agent(), make_agent(), make_agent()
    team = make_team(members=(stays, leaves))
    inbox = make_inbox(teams=(team,))
    held = conversation_of(inbox, "2801", assignee=leaves)

    # when the members change
    staffing.team_members_set(team=team, actor=admin, user_ids=[stays.pk, joins.pk])

    # then
    assert set(team.members.values_list("pk", flat=True)) == {stays.pk, joins.pk}
    assert Conversation.objects.get(pk=held.pk).assignee_id is None

    # and when the team loses the inbox, its members' conversations there go back too
    kept = conversation_of(inbox, "2802", assignee=stays)
    other = make_inbox()
    staffing.team_inboxes_set(team=team, actor=admin, inbox_ids=[other.pk])
    assert list(team.inboxes.values_list("pk", flat=True)) == [other.pk]
    assert Conversation.objects.get(pk=kept.pk).assignee_id is None


def test_deleting_a_team_keeps_direct_memberships(admin):
    member = make_agent()
    team = make_team(members=(member,))
    direct, through_team = make_inbox(members=(member,), teams=(team,)), make_inbox(teams=(team,))
    in_direct = conversation_of(direct, "2901", assignee=member)
    in_team = conversation_of(through_team, "2902", assignee=member)
    Conversation.objects.filter(pk=in_direct.pk).update(team=team)

    staffing.team_delete(team=team, actor=admin)

    assert not Team.objects.filter(pk=team.pk).exists()
    assert Conversation.objects.get(pk=in_direct.pk).assignee_id == member.pk
    assert Conversation.objects.get(pk=in_direct.pk).team_id is None
    assert Conversation.objects.get(pk=in_team.pk).assignee_id is None


# Inboxes ---------------------------------------------------------------------------------------


def test_inbox_members_and_teams_are_set_exactly(admin):
    a, b, c = make_agent(), make_agent(), make_agent()
    team_one, team_two = make_team(members=(c,)), make_team()
    inbox = make_inbox(members=(a, b), teams=(team_one,))
    held_by_b = conversation_of(inbox, "3001", assignee=b)
    held_by_c = conversation_of(inbox, "3002", assignee=c)

    staffing.inbox_members_set(inbox=inbox, actor=admin, user_ids=[a.pk])
    staffing.inbox_teams_set(inbox=inbox, actor=admin, team_ids=[team_two.pk])

    assert list(inbox.members.values_list("pk", flat=True)) == [a.pk]
    assert list(inbox.teams.values_list("pk", flat=True)) == [team_two.pk]
    assert Conversation.objects.get(pk=held_by_b.pk).assignee_id is None
    assert Conversation.objects.get(pk=held_by_c.pk).assignee_id is None


def test_switching_auto_assignment_on_hands_out_what_waits(admin, auto_assign_runs, django_capture_on_commit_callbacks):
    inbox = make_inbox()

    with django_capture_on_commit_callbacks(execute=True):
        staffing.inbox_auto_assign_set(inbox=inbox, actor=admin, enabled=True)
    with django_capture_on_commit_callbacks(execute=True):
        staffing.inbox_auto_assign_set(inbox=inbox, actor=admin, enabled=True)
    inbox.refresh_from_db()
    assert inbox.auto_assign and auto_assign_runs == [inbox.pk]

    staffing.inbox_auto_assign_set(inbox=inbox, actor=admin, enabled=False)
    inbox.refresh_from_db()
    assert not inbox.auto_assign
