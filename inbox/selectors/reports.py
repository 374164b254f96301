"""The leads' report: queues now, and what happened over a period, per X account and per agent.

Medians are taken in Python over the period's rows (two timestamps per conversation), so the report
reads the same on PostgreSQL and on SQLite (the unit tests without DATABASE_URL).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.presence import presences
from inbox.models import Conversation, ConversationEvent, Inbox, Message
from inbox.selectors import access as selectors

PERIODS = {1: "Last 24 hours", 7: "Last 7 days", 30: "Last 30 days"}
LIVE = (Conversation.Status.OPEN, Conversation.Status.PENDING, Conversation.Status.SNOOZED)


def reports_allowed(user: User) -> bool:
    return user.is_authenticated and user.is_active and (user.is_admin or user.role == User.Role.LEAD)


@dataclass
class InboxReport:
    inbox: Inbox
    open: int = 0
    unassigned: int = 0
    waiting_since: datetime | None = None  # the customer who has waited longest for an answer
    started: int = 0
    resolved: int = 0
    first_response: timedelta | None = None
    resolution: timedelta | None = None


@dataclass
class AgentReport:
    agent: User
    presence: str = User.Presence.OFFLINE  # now (accounts.presence), not the stored value

    @property
    def presence_label(self) -> str:
        return User.Presence(self.presence).label

    open: int = 0
    replies: int = 0
    resolved: int = 0


@dataclass
class Report:
    days: int
    since: datetime
    inboxes: list[InboxReport] = field(default_factory=list)
    agents: list[AgentReport] = field(default_factory=list)


def _median(values: list[timedelta]) -> timedelta | None:
    # median works on timedeltas (it sorts them and halves the sum of two); typeshed allows numbers only.
    return statistics.median(values) if values else None  # type: ignore[type-var]


def team_report(user: User, *, days: int) -> Report:
    """The report over the last ``days`` for the inboxes ``user`` sees (a fixed number of queries)."""
    since = timezone.now() - timedelta(days=days)
    inboxes = list(selectors.inboxes_visible_to(user).order_by("handle"))
    by_inbox = {inbox.pk: InboxReport(inbox=inbox) for inbox in inboxes}
    conversations = Conversation.objects.filter(inbox__in=[inbox.pk for inbox in inboxes])
    _queues(conversations, by_inbox)
    _period(conversations, by_inbox, since)
    agents = _agents(conversations, [inbox.pk for inbox in inboxes], since)
    return Report(days=days, since=since, inboxes=list(by_inbox.values()), agents=agents)


def _queues(conversations: QuerySet[Conversation], by_inbox: dict[int, InboxReport]) -> None:
    live = (
        conversations.filter(status__in=LIVE)
        .values("inbox_id")
        .annotate(
            open=Count("pk", filter=Q(status=Conversation.Status.OPEN)),
            unassigned=Count("pk", filter=Q(status=Conversation.Status.OPEN, assignee__isnull=True)),
            waiting_since=Min("last_inbound_at", filter=Q(status=Conversation.Status.OPEN, needs_reply=True)),
        )
    )
    for row in live:
        report = by_inbox[row["inbox_id"]]
        report.open, report.unassigned, report.waiting_since = row["open"], row["unassigned"], row["waiting_since"]


def _period(conversations: QuerySet[Conversation], by_inbox: dict[int, InboxReport], since: datetime) -> None:
    first_inbound = Min("messages__occurred_at", filter=Q(messages__direction=Message.Direction.INBOUND))
    started = conversations.annotate(first_inbound=first_inbound).filter(first_inbound__gte=since)
    waits: dict[int, list[timedelta]] = {pk: [] for pk in by_inbox}
    for inbox_id, first, answered in started.values_list("inbox_id", "first_inbound", "first_response_at"):
        by_inbox[inbox_id].started += 1
        if answered is not None:
            waits[inbox_id].append(answered - first)
    durations: dict[int, list[timedelta]] = {pk: [] for pk in by_inbox}
    resolved = conversations.filter(status=Conversation.Status.RESOLVED, resolved_at__gte=since)
    for inbox_id, opened, closed in resolved.annotate(first_inbound=first_inbound).values_list(
        "inbox_id", "first_inbound", "resolved_at"
    ):
        by_inbox[inbox_id].resolved += 1
        if opened is not None:
            durations[inbox_id].append(closed - opened)
    for pk, report in by_inbox.items():
        report.first_response, report.resolution = _median(waits[pk]), _median(durations[pk])


def team_presence(user: User) -> dict[str, dict[str, str]]:
    """Presence now (``accounts.presence``) by agent id: for admins every agent (the Manage page), for
    leads those who work the inboxes they see (the Reports page)."""
    if user.is_admin:
        agents = list(User.objects.all())
    else:
        agents = list(_agents_working([inbox.pk for inbox in selectors.inboxes_visible_to(user)]))
    return {
        str(pk): {"presence": state, "label": User.Presence(state).label} for pk, state in presences(agents).items()
    }


def _agents_working(inbox_ids: list[int]) -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True)
        .exclude(role=User.Role.SOCIAL)
        .filter(Q(inbox_memberships__inbox_id__in=inbox_ids) | Q(team_memberships__team__inboxes__id__in=inbox_ids))
        .distinct()
        .order_by("name", "email")
    )


def _agents(conversations: QuerySet[Conversation], inbox_ids: list[int], since: datetime) -> list[AgentReport]:
    agents = list(_agents_working(inbox_ids))
    now = presences(agents)
    by_agent = {agent.pk: AgentReport(agent=agent, presence=now[agent.pk]) for agent in agents}
    open_counts = conversations.filter(status=Conversation.Status.OPEN, assignee__in=list(by_agent))
    for agent_id, n in open_counts.values("assignee_id").annotate(n=Count("pk")).values_list("assignee_id", "n"):
        by_agent[agent_id].open = n
    replies = Message.objects.filter(
        conversation__inbox_id__in=inbox_ids,
        direction=Message.Direction.OUTBOUND,
        sender_agent__in=list(by_agent),
        x_event_id__isnull=False,
        occurred_at__gte=since,
    )
    for agent_id, n in replies.values("sender_agent_id").annotate(n=Count("pk")).values_list("sender_agent_id", "n"):
        by_agent[agent_id].replies = n
    resolutions = ConversationEvent.objects.filter(
        conversation__inbox_id__in=inbox_ids,
        kind=ConversationEvent.Kind.STATUS_CHANGED,
        parameters__new=Conversation.Status.RESOLVED,
        actor__in=list(by_agent),
        created_at__gte=since,
    )
    for agent_id, n in resolutions.values("actor_id").annotate(n=Count("pk")).values_list("actor_id", "n"):
        by_agent[agent_id].resolved = n
    return list(by_agent.values())
