"""Writes to agents and teams. Every change to ``accounts`` models goes through here.

These functions do the change and nothing else: who may make it, the rules around it (the last admin, a
name taken in another case) and what follows from it in the inbox (conversations handed back to the
queue, open websockets told to reconnect) belong to the caller, ``inbox.services.staffing`` for the
``/manage/`` pages. Callers that read a row before changing it hold its lock. Nothing here publishes.
An agent's own preferences (``preferences_update``) are theirs to write, from ``/me/preferences/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import AgentPreferences, Team, TeamMembership, User
from accounts.time_zones import time_zone_valid


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
def user_set_password(*, user: User, password: str | None) -> None:
    """Set ``user``'s password; ``None`` leaves them without a usable one (the Manage pages then show them
    as invited, and their invitation can be sent again)."""
    user.set_password(password)
    user.save(update_fields=["password"])


def user_profile_update(*, user: User, name: str, role: str, capacity: int) -> User:
    """Set ``user``'s name, role and capacity, as given (the caller has checked them and holds the row lock)."""
    user.name, user.role, user.capacity = name, role, capacity
    user.save(update_fields=["name", "role", "capacity"])
    return user


def user_active_set(*, user: User, active: bool) -> User:
    """Let ``user`` log in (``active``) or not; no change when it already is so. The caller holds the row lock."""
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
    return user


def user_teams_set(*, user: User, team_ids: Iterable[int]) -> None:
    """Make ``user``'s team memberships exactly ``team_ids`` (memberships kept keep their ``joined_at``)."""
    _memberships_set(TeamMembership.objects.filter(user=user), "team_id", set(team_ids), user=user)


def user_superuser_ensure(*, user: User) -> User:
    """Make ``user`` a superuser of the Django admin site (``is_staff`` and ``is_superuser``) if they are not
    one; nothing else changes. Locks the user's row."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not (locked.is_staff and locked.is_superuser):
            locked.is_staff = locked.is_superuser = True
            locked.save(update_fields=["is_staff", "is_superuser"])
    return locked


def user_django_admin_access_set(
    *, user: User, is_staff: bool, groups: Iterable[Group], permissions: Iterable[Permission]
) -> User:
    """Who may log into the Django admin site (``/admin/``) and what they may do there: ``is_staff`` and
    Django's groups and permissions. Nothing the inbox decides reads these (what an agent sees and does
    follows their role, teams and inboxes, set on the Manage pages), so nothing else changes and nothing
    is published. Locks the user's row."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_staff != is_staff:
            locked.is_staff = is_staff
            locked.save(update_fields=["is_staff"])
        locked.groups.set(list(groups))
        locked.user_permissions.set(list(permissions))
    return locked


def team_create(*, name: str) -> Team:
    """A new team with nobody in it, named ``name`` as given (unique; the caller checks other cases)."""
    return Team.objects.create(name=name)


def team_get_or_create(*, name: str) -> Team:
    """The team named exactly ``name``, created empty if there is none."""
    team, _ = Team.objects.get_or_create(name=name)
    return team


def team_rename(*, team: Team, name: str) -> Team:
    """Rename ``team`` (the caller holds its row lock and has checked the name)."""
    team.name = name
    team.save(update_fields=["name"])
    return team


def team_delete(*, team: Team) -> None:
    """Delete ``team`` with its memberships and inbox links; its conversations keep no team (SET NULL)."""
    team.delete()


def team_member_add(*, team: Team, user: User) -> TeamMembership:
    """Add ``user`` to ``team``; adding someone who is already a member changes nothing."""
    membership, _ = TeamMembership.objects.get_or_create(team=team, user=user)
    return membership


def team_members_set(*, team: Team, user_ids: Iterable[int]) -> None:
    """Make ``team``'s members exactly ``user_ids`` (members kept keep their ``joined_at``)."""
    _memberships_set(team.memberships.all(), "user_id", set(user_ids), team=team)


def presence_choice_set(*, user: User, choice: str) -> User:
    """Set what ``user`` chose in the top bar: ``auto`` (online while the inbox is open and in use),
    ``away`` or ``offline``, kept across sessions. Changes the user row only; publishes nothing
    (``inbox.services.agent_status.agent_presence_choose`` works out and announces what follows).
    Raises ``ValueError`` for another value."""
    if choice not in User.PresenceChoice.values:
        raise ValueError(f"Unknown presence {choice!r}; expected one of {User.PresenceChoice.values}.")
    if user.presence_choice != choice:
        user.presence_choice = choice
        user.save(update_fields=["presence_choice"])
    return user


def presence_record(*, user: User, presence: str) -> bool:
    """Store ``presence`` as ``user``'s current state and stamp ``presence_changed_at``; return whether it
    changed. The caller holds the row lock and announces the change. Raises ``ValueError`` for an
    unknown state."""
    if presence not in User.Presence.values:
        raise ValueError(f"Unknown presence {presence!r}; expected one of {User.Presence.values}.")
    if user.presence == presence:
        return False
    user.presence = presence
    user.presence_changed_at = timezone.now()
    user.save(update_fields=["presence", "presence_changed_at"])
    return True


def _memberships_set(rows: QuerySet[TeamMembership], key: str, wanted: set[int], **fields: Any) -> None:
    """Make the memberships ``rows`` cover exactly the ids ``wanted`` in ``key`` (``team_id`` or ``user_id``)."""
    have = set(rows.values_list(key, flat=True))
    rows.filter(**{f"{key}__in": have - wanted}).delete()
    TeamMembership.objects.bulk_create([TeamMembership(**fields, **{key: pk}) for pk in sorted(wanted - have)])


def preferences_update(
    *,
    user: User,
    time_zone: str,
    desktop_notifications: bool,
    sound: bool,
    notify_mine: bool,
    notify_unassigned: bool,
    notify_teams: bool,
) -> AgentPreferences:
    """Store ``user``'s own preferences, creating their row on the first save.

    ``time_zone`` is an IANA name (``zoneinfo``), or "" to follow the browser's; any other raises
    ``ValueError`` and changes nothing. Upserts one row of ``user``'s (no lock: only its owner writes it);
    publishes nothing: the next page the agent loads reads it.
    """
    time_zone = time_zone.strip()
    if time_zone and not time_zone_valid(time_zone):
        raise ValueError(f"Unknown time zone {time_zone!r}; use an IANA name such as Europe/Paris.")
    preferences, _ = AgentPreferences.objects.update_or_create(
        user=user,
        defaults={
            "time_zone": time_zone,
            "desktop_notifications": desktop_notifications,
            "sound": sound,
            "notify_mine": notify_mine,
            "notify_unassigned": notify_unassigned,
            "notify_teams": notify_teams,
        },
    )
    return preferences


def preferences_sound_set(*, user: User, sound: bool) -> AgentPreferences:
    """Turn the new-message sound on or off for ``user`` (the inbox's mute button); the rest stays as it is."""
    preferences, _ = AgentPreferences.objects.update_or_create(user=user, defaults={"sound": sound})
    return preferences
