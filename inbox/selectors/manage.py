"""What the ``/manage/`` pages show: agents, teams and inboxes with who works what."""

from __future__ import annotations

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import BooleanField, Case, Count, Prefetch, Q, QuerySet, Value, When

from accounts.models import Team, User
from inbox.models import Conversation, Inbox


def agent_list() -> QuerySet[User]:
    """Every agent, active ones first, with ``invited`` (no password chosen yet), their teams (each with
    its inboxes) and the inboxes they are a direct member of."""
    return (
        User.objects.annotate(invited=_invited())
        .prefetch_related(
            Prefetch("teams", queryset=Team.objects.prefetch_related("inboxes")),
            Prefetch("inboxes", queryset=Inbox.objects.order_by("handle")),
        )
        .order_by("-is_active", "name", "email")
    )


def agent_get(user_id: int) -> User | None:
    return agent_list().filter(pk=user_id).first()


def agent_team_inboxes(agent: User) -> list[Inbox]:
    """The inboxes ``agent`` works through a team and not directly (uses ``agent_list``'s prefetches)."""
    direct = {inbox.pk for inbox in agent.inboxes.all()}
    seen: dict[int, Inbox] = {}
    for team in agent.teams.all():
        for inbox in team.inboxes.all():
            if inbox.pk not in direct:
                seen.setdefault(inbox.pk, inbox)
    return sorted(seen.values(), key=lambda inbox: inbox.handle)


def agent_held_count(agent: User) -> int:
    """How many conversations are assigned to ``agent`` and not resolved: what deactivation hands back."""
    return Conversation.objects.filter(assignee=agent).exclude(status=Conversation.Status.RESOLVED).count()


def team_list() -> QuerySet[Team]:
    return Team.objects.prefetch_related(
        Prefetch("members", queryset=User.objects.order_by("name", "email")),
        Prefetch("inboxes", queryset=Inbox.objects.order_by("handle")),
    ).order_by("name")


def team_get(team_id: int) -> Team | None:
    return team_list().annotate(conversation_count=Count("conversations")).filter(pk=team_id).first()


def inbox_list() -> QuerySet[Inbox]:
    return Inbox.objects.prefetch_related(
        Prefetch("members", queryset=User.objects.order_by("name", "email")),
        Prefetch("teams", queryset=Team.objects.order_by("name")),
    ).order_by("handle")


def inbox_get(inbox_id: int) -> Inbox | None:
    return inbox_list().filter(pk=inbox_id).first()


def _invited() -> Case:
    return Case(
        When(Q(password__startswith=UNUSABLE_PASSWORD_PREFIX), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
