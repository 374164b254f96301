"""Writes to agents and teams. Every change to ``accounts`` models goes through here."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from accounts.models import Team, TeamMembership, User


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    name: str = "",
    role: str = User.Role.AGENT,
    is_staff: bool = False,
) -> User:
    """Create an agent who can log in with ``email`` and register the address with allauth as
    verified and primary. ``password=None`` leaves the account without a usable password."""
    user = User.objects.create_user(email, password, name=name, role=role, is_staff=is_staff)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@transaction.atomic
def user_set_password(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


def team_member_add(*, team: Team, user: User) -> TeamMembership:
    """Add ``user`` to ``team``; adding someone who is already a member changes nothing."""
    membership, _ = TeamMembership.objects.get_or_create(team=team, user=user)
    return membership


def presence_set(*, user: User, presence: str) -> User:
    """Set ``user``'s own online/away/offline toggle and stamp ``presence_changed_at``.

    Only ``online`` agents with an open websocket (``accounts.online``) get auto-assigned conversations;
    the beat's ``inbox.auto_assign_all`` hands waiting ones to an agent who came back within a minute.
    Changes the user row only; publishes nothing.
    """
    if presence not in User.Presence.values:
        raise ValueError(f"Unknown presence {presence!r}; expected one of {User.Presence.values}.")
    if user.presence != presence:
        user.presence = presence
        user.presence_changed_at = timezone.now()
        user.save(update_fields=["presence", "presence_changed_at"])
    return user
