"""What alerts an agent to new customer messages: the unread count in the tab's title, and which new
messages get a sound and a desktop notification.

The alerting views are the agent's Mine, Unassigned and their own teams' queues (open conversations),
each on or off in their preferences (``accounts.AgentPreferences``). A conversation is unread for the agent
while the customer wrote after the agent last read it (``ConversationRead``), as the list's unread dot.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import AgentPreferences, Team, User
from accounts.selectors import preferences_of
from inbox.models import Conversation, ConversationRead
from inbox.selectors import access as selectors


@dataclass(frozen=True)
class Alert:
    """A conversation to alert about: who wrote and the start of their last message."""

    conversation_id: int
    title: str
    body: str


def _views_filter(user: User, preferences: AgentPreferences) -> Q | None:
    """The conversations of the views ``user`` is alerted for, or None when they turned every one off."""
    views = []
    if preferences.notify_mine:
        views.append(Q(assignee=user))
    if preferences.notify_unassigned:
        views.append(Q(assignee__isnull=True))
    if preferences.notify_teams:
        views.append(Q(team__in=Team.objects.filter(members=user)))
    if not views:
        return None
    combined = views[0]
    for view in views[1:]:
        combined |= view
    return combined


def _alerting(user: User, preferences: AgentPreferences) -> QuerySet[Conversation]:
    """Open conversations of the alerting views that ``user`` may see and has not read since the customer wrote."""
    views = _views_filter(user, preferences)
    if views is None:
        return Conversation.objects.none()
    read_since = ConversationRead.objects.filter(
        conversation=OuterRef("pk"), user=user, read_at__gte=OuterRef("last_inbound_at")
    )
    return Conversation.objects.filter(
        views,
        inbox__in=selectors.inboxes_visible_to(user).values("pk"),
        status=Conversation.Status.OPEN,
        last_inbound_at__isnull=False,
    ).exclude(Exists(read_since))


def unread_count(user: User) -> int:
    """How many conversations of ``user``'s alerting views are unread: the "(3)" in the tab's title."""
    return _alerting(user, preferences_of(user)).count()


def alerts_for(user: User, conversation_ids: list[int]) -> tuple[int, list[Alert]]:
    """The unread count, and of ``conversation_ids`` (announced as new or with a new customer message) those
    in ``user``'s alerting views and unread: what a sound or notification should be about. Conversations the
    agent may not see are never among them."""
    preferences = preferences_of(user)
    alerting = _alerting(user, preferences)
    found = alerting.filter(pk__in=conversation_ids[:100]).select_related("contact").order_by("-last_inbound_at", "-pk")
    alerts = [
        Alert(
            conversation_id=conversation.pk,
            title=conversation.contact.display_name if conversation.contact else "Group conversation",
            body=conversation.last_message_preview or "New conversation",
        )
        for conversation in found
    ]
    return alerting.count(), alerts
