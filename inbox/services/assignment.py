"""Who works a conversation: assigning it to an agent, or taking it back to the queue."""

from __future__ import annotations

from celery import current_app
from django.db import transaction

from accounts.models import Team, User
from inbox import events as activity
from inbox import realtime
from inbox.models import Conversation, Notification
from inbox.selectors import access as selectors
from inbox.services import notifications

PENDING_TASK = "inbox.auto_assign_pending"


class AssignmentError(ValueError):
    """The assignment is not allowed; the message says why, in words an agent understands."""


class AssignmentConflict(AssignmentError):
    """Someone else changed the assignee since the actor last looked."""

    def __init__(self, current: User | None) -> None:
        self.current = current
        who = current.display_name if current else "nobody"
        super().__init__(f"Already assigned to {who}: someone changed it while you were looking.")


_UNCHANGED = object()


def conversation_assign(
    *,
    conversation_id: int,
    assignee: User | None,
    actor: User | None,
    expected_assignee_id: int | None | object = _UNCHANGED,
) -> Conversation:
    """Assign a conversation to ``assignee`` (None: back to the unassigned queue).

    Admins and leads assign anyone who may see the conversation's inbox; agents take a conversation
    for themselves when it is unassigned (or already theirs) and may hand back their own.
    ``expected_assignee_id`` is who the actor saw assigned: when someone else changed it meanwhile,
    ``AssignmentConflict`` names the current assignee and nothing changes (two agents pressing
    "assign to me" at once: the first wins, the second is told who). Locks the conversation row.
    Writes an ``assigned`` activity row and publishes ``conversation.updated`` after commit when the
    assignee changed; a new assignee other than the actor gets a notification.
    ``actor=None`` is auto-assignment (``services/auto_assign.py``): only the inbox membership of the
    assignee is checked. A conversation freed (unassigned, or taken from someone) in an inbox with
    auto-assignment on asks for ``auto_assign_pending`` after commit.
    """
    with transaction.atomic():
        locked = Conversation.objects.select_for_update(of=("self",)).select_related("inbox")
        conversation = locked.get(pk=conversation_id)
        # The assignee is read after the lock, not joined into it: when the lock waited for another
        # assignment, PostgreSQL re-reads the locked row but keeps the joined rows it saw before the
        # wait, so a joined assignee came back None and the loser was told "nobody" took it.
        current = User.objects.get(pk=conversation.assignee_id) if conversation.assignee_id else None
        conversation.assignee = current
        if expected_assignee_id is not _UNCHANGED and conversation.assignee_id != expected_assignee_id:
            raise AssignmentConflict(current)
        if conversation.assignee_id == (assignee.pk if assignee else None):
            return conversation
        _check_allowed(conversation, actor=actor, current=current, assignee=assignee)
        conversation.assignee = assignee
        conversation.save(update_fields=["assignee", "updated_at"])
        activity.assigned_event(conversation=conversation, actor=actor, old_assignee=current, new_assignee=assignee)
        if assignee is not None:
            who = conversation.contact.display_name if conversation.contact else "a group conversation"
            by = actor.display_name if actor is not None else "Auto-assignment"
            notifications.notify(
                users=[assignee],
                kind=Notification.Kind.ASSIGNED,
                conversation=conversation,
                actor=actor,
                text=f"{by} assigned you the conversation with {who}.",
            )
        realtime.publish_conversation(conversation, event="conversation.updated", changed=["assignee_id"])
        if conversation.inbox.auto_assign and (current is not None or assignee is None):
            auto_assign_enqueue(inbox_id=conversation.inbox_id)
        return conversation


def _check_allowed(
    conversation: Conversation, *, actor: User | None, current: User | None, assignee: User | None
) -> None:
    if assignee is not None and not selectors.inboxes_visible_to(assignee).filter(pk=conversation.inbox_id).exists():
        raise AssignmentError(f"{assignee.display_name} is not a member of @{conversation.inbox.handle}.")
    if actor is None:
        return
    if actor.is_admin or actor.role == User.Role.LEAD:
        return
    if actor.role != User.Role.AGENT:
        raise AssignmentError("Only agents, leads and admins assign conversations.")
    if assignee is not None and assignee.pk != actor.pk:
        raise AssignmentError("Agents can only assign conversations to themselves; ask a lead to reassign.")
    if current is not None and current.pk != actor.pk:
        raise AssignmentConflict(current)


def conversation_team_set(*, conversation_id: int, team: Team | None, actor: User) -> Conversation:
    """Put a conversation in ``team``'s queue (None: no team), keeping its assignee.

    Leads and admins only; the team must work the conversation's inbox, so its members can see it.
    Locks the conversation row; writes a ``team_assigned`` activity row and publishes
    ``conversation.updated`` after commit when the team changed.
    """
    if not (actor.is_admin or actor.role == User.Role.LEAD):
        raise AssignmentError("Only leads and admins move conversations between teams.")
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",)).select_related("inbox").get(pk=conversation_id)
        )
        if conversation.team_id == (team.pk if team else None):
            return conversation
        if team is not None and not conversation.inbox.teams.filter(pk=team.pk).exists():
            raise AssignmentError(f"Team {team.name} does not work @{conversation.inbox.handle}.")
        old = Team.objects.filter(pk=conversation.team_id).first() if conversation.team_id else None
        conversation.team = team
        conversation.save(update_fields=["team", "updated_at"])
        activity.team_assigned_event(conversation=conversation, actor=actor, old_team=old, new_team=team)
        realtime.publish_conversation(conversation, event="conversation.updated", changed=["team_id"])
        return conversation


def auto_assign_enqueue(*, inbox_id: int) -> None:
    """After commit, run ``auto_assign_pending`` for the inbox in a worker (task by name, so callers stay fast)."""

    def enqueue_auto_assign() -> None:
        current_app.tasks[PENDING_TASK].delay(inbox_id)

    # robust: the change that asked for it is committed either way; the beat catches up.
    transaction.on_commit(enqueue_auto_assign, robust=True)
