"""Whether an agent is Online, Away or Offline, kept up to date and announced.

``accounts.presence`` says what the state is (the agent's choice and their open inbox pages); these
services store it in ``User.presence`` when something it depends on changed (a socket opened or closed,
a page went idle or was used again, the agent chose in the top bar) and publish ``agent.status`` after
commit when it changed. An agent who comes online gets waiting conversations at once: auto-assignment
runs for their inboxes that have it on.

Not to be confused with ``services/presence.py``: who is viewing or replying to one conversation.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from accounts import services as accounts_services
from accounts.models import User
from accounts.presence import presence_now, presences
from inbox import realtime
from inbox.models import Inbox
from inbox.services.assignment import auto_assign_enqueue


def agent_status_refresh(*, user_id: int) -> str:
    """Work out ``user_id``'s presence now, store it, and return it.

    Locks the user's row, so two sockets of one agent closing at once store the state that follows the
    last change (each reads the open sockets inside the lock). When it changed: publishes
    ``agent.status`` and, on becoming online, enqueues auto-assignment for each inbox of theirs that has
    it on, both after commit. An unknown id is offline.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            return User.Presence.OFFLINE
        return agent_status_record(user=user)


def agent_status_sweep() -> int:
    """Correct the stored presence of agents whose pages went without a word (their server died: its
    sockets stopped counting, nothing closed them) and announce it; return how many changed. Reads the
    agents stored as online or away; locks each row it corrects (``agent_status_refresh``)."""
    stored = list(
        User.objects.exclude(presence=User.Presence.OFFLINE).only("pk", "presence", "presence_choice", "is_active")
    )
    now = presences(stored)
    changed = 0
    for user in stored:
        if now[user.pk] != user.presence:
            agent_status_refresh(user_id=user.pk)
            changed += 1
    return changed


def agent_presence_choose(*, user: User, choice: str) -> User:
    """``user`` chose ``auto``, ``away`` or ``offline`` in the top bar: remember it (across sessions), then
    store and announce the state that follows (``agent_status_refresh``). Locks the row. Raises
    ``ValueError`` for an unknown choice."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        accounts_services.presence_choice_set(user=locked, choice=choice)
        agent_status_record(user=locked)
    return locked


def agent_status_record(*, user: User) -> str:
    """``agent_status_refresh`` for a user whose row the caller has locked (in its transaction)."""
    state = presence_now(user)
    if accounts_services.presence_record(user=user, presence=state):
        realtime.publish_agent_status(
            user_id=user.pk, presence=state, label=user.get_presence_display(), choice=user.presence_choice
        )
        if state == User.Presence.ONLINE:
            inboxes = Inbox.objects.filter(auto_assign=True).filter(Q(members=user) | Q(teams__members=user))
            for inbox_id in inboxes.distinct().values_list("pk", flat=True):
                auto_assign_enqueue(inbox_id=inbox_id)
    return state
