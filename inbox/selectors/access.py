"""Reads with rules in them: above all, who may see which inbox."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Team, User
from inbox.models import Conversation, Inbox, Message, MessageAttachment


def inboxes_visible_to(user: User) -> QuerySet[Inbox]:
    """Admins see every inbox; everyone else the inboxes they, or one of their teams, belong to."""
    if not user.is_authenticated or not user.is_active:
        return Inbox.objects.none()
    if user.is_admin:
        return Inbox.objects.all()
    return Inbox.objects.filter(Q(members=user) | Q(teams__members=user)).distinct()


def conversation_thread(conversation: Conversation) -> QuerySet[Message]:
    """The thread in X's order: X's time, then X's event id, then arrival."""
    return (
        conversation.messages.select_related("sender_contact", "sender_agent")
        .prefetch_related("attachments")
        .order_by("occurred_at", "x_sequence", "pk")
    )


def attachment_for_user(user: User, attachment_id: int) -> MessageAttachment | None:
    """The attachment if ``user`` may see its conversation's inbox; None otherwise, as for a missing id."""
    return (
        MessageAttachment.objects.filter(
            pk=attachment_id, message__conversation__inbox__in=inboxes_visible_to(user).values("pk")
        )
        .only("pk", "file", "content_type", "stored_at", "download_error")
        .first()
    )


def assignable_agents(inbox_id: int) -> QuerySet[User]:
    """Active agents, leads and admins who work ``inbox_id`` (members, directly or through a team)."""
    return (
        User.objects.filter(is_active=True)
        .exclude(role=User.Role.SOCIAL)
        .filter(Q(inbox_memberships__inbox_id=inbox_id) | Q(team_memberships__team__inboxes__id=inbox_id))
        .distinct()
        .order_by("name", "email")
    )


def bulk_assignees(user: User) -> QuerySet[User]:
    """Whom ``user`` may assign many conversations to at once: for leads and admins, the active agents who
    work any inbox ``user`` sees; for agents nobody (they take conversations for themselves only)."""
    if not (user.is_admin or user.role == User.Role.LEAD):
        return User.objects.none()
    inboxes = inboxes_visible_to(user).values("pk")
    return (
        User.objects.filter(is_active=True)
        .exclude(role=User.Role.SOCIAL)
        .filter(Q(inbox_memberships__inbox__in=inboxes) | Q(team_memberships__team__inboxes__in=inboxes))
        .distinct()
        .order_by("name", "email")
    )


def bulk_teams(user: User) -> QuerySet[Team]:
    """The teams a lead or admin may move conversations to in bulk: those working an inbox they see."""
    if not (user.is_admin or user.role == User.Role.LEAD):
        return Team.objects.none()
    return Team.objects.filter(inboxes__in=inboxes_visible_to(user).values("pk")).distinct().order_by("name")
