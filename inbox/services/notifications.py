"""Notifications: an agent is told when someone mentions them (or their team) in a note, or assigns them a
conversation. Stored, so the bell shows them after a reload, and pushed live to the agent's own group.

A mention is ``@`` followed by an agent's email name (``@alice`` for alice@example.com), their name
without spaces (``@AliceAgent``) or a team's name without spaces (``@Billing``), in any case. Only
people who work the conversation's inbox are notified; the author never is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from inbox import realtime
from inbox.models import Conversation, Notification
from inbox.selectors import access as selectors

MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def mentioned(*, conversation: Conversation, body: str) -> list[User]:
    """The agents ``body`` mentions, directly or through a team, among those who work the inbox."""
    tokens = {token.lower().rstrip(".") for token in MENTION.findall(body)}
    if not tokens:
        return []
    agents = list(selectors.assignable_agents(conversation.inbox_id))
    found = {a.pk: a for a in agents if a.email.split("@")[0].lower() in tokens or _key(a.name) in tokens}
    team_ids = [t.pk for t in Team.objects.all() if _key(t.name) in tokens]
    if team_ids:
        members = set(User.objects.filter(team_memberships__team_id__in=team_ids).values_list("pk", flat=True))
        found.update({a.pk: a for a in agents if a.pk in members})
    return list(found.values())


def notify(
    *, users: Iterable[User], kind: str, conversation: Conversation, actor: User | None, text: str
) -> list[Notification]:
    """Store a notification for each of ``users`` (never ``actor``) and publish ``notification.created``
    to each one's own group after commit."""
    created = []
    with transaction.atomic():
        for user in users:
            if actor is not None and user.pk == actor.pk:
                continue
            notification = Notification.objects.create(
                user=user, kind=kind, conversation=conversation, actor=actor, text=text[:300]
            )
            realtime.publish(
                groups=[realtime.agent_group(user.pk)],
                event="notification.created",
                data={
                    "notification_id": notification.pk,
                    "kind": kind,
                    "conversation_id": conversation.pk,
                    "text": notification.text,
                },
            )
            created.append(notification)
    return created


def notifications_mark_read(*, user: User) -> int:
    """Mark all of ``user``'s notifications read; return how many were unread. Publishes nothing."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
