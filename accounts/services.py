"""Writes to agents and teams. Every change to ``accounts`` models goes through here."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction

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
