"""An agent's presence (Online, Away, Offline) as it follows from their choice and their open pages.

- Offline: no open inbox page (``accounts.online``: the last socket closed, or its server died and its
  entry expired), the agent chose Offline, or the account is deactivated.
- Away: the agent chose Away, or every open page of theirs has been idle (no keyboard, mouse or focus)
  for ``settings.PRESENCE_AWAY_AFTER`` seconds.
- Online: otherwise, which is the default choice (Auto) with the inbox open and in use.

These functions read; ``inbox.services.agent_status`` stores the result in ``User.presence`` and
announces changes. Readers that must be right now (auto-assignment, the Reports and Manage pages) ask
here rather than trust the stored value, which a server that died without closing its sockets leaves
behind until the next change.
"""

from __future__ import annotations

from collections.abc import Iterable

from accounts import online
from accounts.models import User


def presence_of(*, choice: str, active: bool, connected: bool, is_active: bool = True) -> str:
    """The state that follows from an agent's ``choice`` and whether a page of theirs is open
    (``connected``) and in use (``active``)."""
    if not is_active or not connected or choice == User.PresenceChoice.OFFLINE:
        return User.Presence.OFFLINE
    if choice == User.PresenceChoice.AWAY or not active:
        return User.Presence.AWAY
    return User.Presence.ONLINE


def presences(users: Iterable[User]) -> dict[int, str]:
    """Each of ``users``' presence now, by id: two Redis round trips for them all, no query."""
    users = list(users)
    ids = [user.pk for user in users]
    connected = online.users_connected(ids)
    active = online.users_active(ids)
    return {
        user.pk: presence_of(
            choice=user.presence_choice,
            active=user.pk in active,
            connected=user.pk in connected,
            is_active=user.is_active,
        )
        for user in users
    }


def presence_now(user: User) -> str:
    """``user``'s presence now (``presences`` for one)."""
    return presences([user])[user.pk]
