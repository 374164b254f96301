"""Reads for the conversation list: one window of a view, a single row, and the views' live counts.

Every read starts from ``selectors.inboxes_visible_to``: what an agent may not see is never fetched.
The list is keyset-paginated on (last activity, id), so the 5,000th page costs what the first does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils.dateparse import parse_datetime

from accounts.models import Team, User
from inbox.models import Contact, Conversation, ConversationRead, Message
from inbox.selectors import access as selectors
from inbox.selectors.queues import FIXED_VIEWS, QueueView

if TYPE_CHECKING:
    from datetime import datetime
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    class _ReadAt(TypedDict):
        read_at: datetime | None

    _Row = WithAnnotations[Conversation, _ReadAt]

PAGE_SIZE = 50
SEARCH_MIN_LENGTH = 2

Status = Conversation.Status


class BadCursor(ValueError):
    pass


@dataclass
class ListPage:
    rows: list[Conversation]
    next_cursor: str | None


@dataclass
class NavEntry:
    key: str
    label: str
    count: int | None


@dataclass
class Nav:
    views: list[NavEntry]
    teams: list[NavEntry] = field(default_factory=list)
    accounts: list[NavEntry] = field(default_factory=list)


def teams_of(user: User) -> QuerySet[Team]:
    """The teams whose queues ``user`` may open: every team for admins, otherwise their own."""
    return Team.objects.all() if user.is_admin else Team.objects.filter(members=user)


def _base(user: User, view: QueueView, search: str) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(inbox__in=selectors.inboxes_visible_to(user).values("pk"))
    conversations = conversations.filter(view.filter(user))
    if search:
        conversations = _matching(conversations, search)
    return conversations


def _matching(conversations: QuerySet[Conversation], search: str) -> QuerySet[Conversation]:
    """Conversations whose contact's name or @handle, or any of whose messages, contain ``search``."""
    handle = search.removeprefix("@")
    contacts = Contact.objects.filter(Q(name__icontains=search) | Q(handle__icontains=handle)).values("pk")
    messages = Message.objects.filter(text__icontains=search).values("conversation_id")
    return conversations.filter(Q(contact__in=contacts) | Q(pk__in=messages))


def _rows(user: User, conversations: QuerySet[Conversation]) -> QuerySet[_Row]:
    read_at = ConversationRead.objects.filter(conversation=OuterRef("pk"), user=user).values("read_at")[:1]
    return (
        conversations.select_related("inbox", "contact", "assignee", "team")
        .prefetch_related("labels")
        .annotate(read_at=Subquery(read_at))
        .order_by("-last_message_at", "-pk")
    )


def _mark_unread(rows: list[_Row]) -> list[Conversation]:
    for row in rows:
        inbound = row.last_inbound_at
        row.is_unread = inbound is not None and (row.read_at is None or inbound > row.read_at)
    return list(rows)


def cursor_of(conversation: Conversation) -> str:
    at = conversation.last_message_at.isoformat() if conversation.last_message_at else ""
    return f"{at}|{conversation.pk}"


def _after_cursor(conversations: QuerySet[Conversation], cursor: str) -> QuerySet[Conversation]:
    at_text, _, pk_text = cursor.partition("|")
    at = parse_datetime(at_text) if at_text else None
    if not pk_text.isdigit() or (at_text and at is None):
        raise BadCursor(f"Not a list position: {cursor!r}. Use the 'before' value a list page gave you.")
    pk = int(pk_text)
    if at is None:  # rows without activity sort first (descending NULLs first in PostgreSQL)
        return conversations.filter(last_message_at__isnull=True, pk__lt=pk) | conversations.filter(
            last_message_at__isnull=False
        )
    return conversations.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, pk__lt=pk))


def conversation_page(user: User, *, view: QueueView, search: str = "", before: str | None = None) -> ListPage:
    """One window of ``view`` (optionally searched), latest activity first, starting after ``before``."""
    conversations = _base(user, view, search)
    if before:
        conversations = _after_cursor(conversations, before)
    rows = _mark_unread(list(_rows(user, conversations)[: PAGE_SIZE + 1]))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return ListPage(rows=rows, next_cursor=cursor_of(rows[-1]) if more else None)


def conversation_row(user: User, *, view: QueueView, search: str, conversation_id: int) -> Conversation | None:
    """The list row of one conversation, or None when it is not (or no longer) in ``view`` for ``user``."""
    rows = _mark_unread(list(_rows(user, _base(user, view, search).filter(pk=conversation_id))))
    return rows[0] if rows else None


def queue_nav(user: User) -> Nav:
    """The views, the user's team queues and X accounts, with how many conversations wait in each.

    One grouped query over the conversations that are not resolved: their number is bounded by the work
    in progress, not by history.
    """
    inboxes = list(selectors.inboxes_visible_to(user).order_by("handle").values_list("pk", "handle"))
    teams = list(teams_of(user).order_by("name").values_list("pk", "name"))
    counts: Counter[str] = Counter()
    grouped = (
        Conversation.objects.filter(
            inbox__in=[pk for pk, _ in inboxes], status__in=[Status.OPEN, Status.PENDING, Status.SNOOZED]
        )
        .values("inbox_id", "team_id", "status")
        .annotate(n=Count("pk"), mine=Count("pk", filter=Q(assignee=user)), free=Count("pk", filter=Q(assignee=None)))
        .order_by()
    )
    for group in grouped:
        counts[group["status"]] += group["n"]
        if group["status"] == Status.OPEN:
            counts["mine"] += group["mine"]
            counts["unassigned"] += group["free"]
            counts[f"account-{group['inbox_id']}"] += group["n"]
            if group["team_id"] is not None:
                counts[f"team-{group['team_id']}"] += group["n"]
    return Nav(
        views=[NavEntry(v.key, v.label, counts[v.key] if v.counted else None)
               for v in FIXED_VIEWS],
        teams=[NavEntry(f"team-{pk}", name, counts[f"team-{pk}"]) for pk, name in teams],
        accounts=[NavEntry(f"account-{pk}", f"@{handle}", counts[f"account-{pk}"]) for pk, handle in inboxes],
    )  # fmt: skip


def nav_scope(user: User) -> tuple[set[int], set[int]]:
    """The team ids and inbox ids whose queues ``user`` may open (for ``queues.view_for``)."""
    return set(teams_of(user).values_list("pk", flat=True)), set(
        selectors.inboxes_visible_to(user).values_list("pk", flat=True)
    )
