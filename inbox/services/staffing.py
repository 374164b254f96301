"""What admins change about agents, teams and who works which inbox (the ``/manage/`` pages).

Every function takes the acting admin as ``actor`` and refuses anybody else. Refusals raise
``ManagementError`` with a sentence the admin can act on; ``field`` names the form field it is about.

Who may work a conversation follows from the rows changed here (``inbox.selectors.access.inboxes_visible_to``),
so a change that takes an inbox away from somebody, deactivates them or makes them a social manager
(read-only) hands their unresolved conversations there back to the queue: through
``inbox.services.assignment.conversation_assign``, which writes an ``assigned`` activity row, publishes
``conversation.updated`` after commit and, for an inbox with auto-assignment on, enqueues
``inbox.auto_assign_pending`` after commit so the conversations go out again. Each conversation is
its own transaction, taken after the change itself committed, when the assignment service already
refuses that person new conversations there; running the service again finishes an interrupted sweep.

The rows of ``accounts`` (users, teams, team memberships) are written by ``accounts.services``; these
functions decide whether a change may happen, lock the rows, and do what follows from it in the inbox.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from allauth.core import context as allauth_context
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from accounts import services as accounts_services
from accounts.models import Team, TeamMembership, User
from inbox import realtime
from inbox.models import Conversation, Inbox, InboxMembership
from inbox.selectors import access as inbox_selectors
from inbox.services import agent_status
from inbox.services.assignment import AssignmentConflict, auto_assign_enqueue, conversation_assign

INVITATION_TEMPLATE = "account/email/invitation"
MAX_CAPACITY = 1000


class ManagementError(ValueError):
    """The change is refused; the message says why. ``field``: the form field it is about, if one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvitationNotSent(ManagementError):
    """The agent exists but the invitation email could not be sent: resend it later."""

    def __init__(self, user: User, reason: str) -> None:
        super().__init__(f"{user.email} was added, but the invitation email could not be sent ({reason}).")
        self.user = user


# Agents ----------------------------------------------------------------------------------------


def agent_invite(
    *,
    email: str,
    name: str,
    role: str,
    team_ids: Iterable[int],
    inbox_ids: Iterable[int],
    invited_by: User,
    request: HttpRequest | None = None,
) -> User:
    """Create an agent without a usable password, add their memberships and email them an invitation.

    The invitation is allauth's password-reset-from-key link (its token generator and
    ``account_reset_password_from_key`` page): the invitee chooses a password there, which ends the
    invitation, and then logs in. The link is valid for ``PASSWORD_RESET_TIMEOUT`` seconds.
    ``request`` (default: allauth's current request) gives the link its address. Locks nothing: the
    unique email index decides between two invitations of one address. The email is sent after
    commit; if that fails, ``InvitationNotSent`` is raised then (the agent stays; resend later).
    """
    _require_admin(invited_by)
    request = _request_for_links(request)
    email, name, role = _clean_email(email), _clean_name(name), _clean_role(role)
    teams, inboxes = _teams(team_ids), _inboxes(inbox_ids)
    with transaction.atomic():
        _refuse_taken_email(email)
        try:
            user = accounts_services.user_create(email=email, password=None, name=name, role=role)
        except IntegrityError:
            raise _email_taken(email) from None
        accounts_services.user_teams_set(user=user, team_ids=[team.pk for team in teams])
        InboxMembership.objects.bulk_create([InboxMembership(inbox=inbox, user=user) for inbox in inboxes])
        _invitation_send_on_commit(user=user, invited_by=invited_by, request=request)
    return user


def agent_invite_resend(*, user: User, actor: User, request: HttpRequest | None = None) -> None:
    """Email ``user`` a fresh invitation link (earlier ones keep working until they expire or a password
    is set). Refused once they have set a password, and while they are deactivated. Writes nothing;
    sends after commit like ``agent_invite``."""
    _require_admin(actor)
    request = _request_for_links(request)
    user = User.objects.get(pk=user.pk)
    if user.has_usable_password():
        raise ManagementError(f"{user.display_name} has already joined: they log in with {user.email}.")
    if not user.is_active:
        raise ManagementError(f"{user.display_name} is deactivated: reactivate them before inviting them again.")
    _invitation_send_on_commit(user=user, invited_by=actor, request=request)


def agent_update(*, user: User, actor: User, name: str, role: str, capacity: int) -> User:
    """Set an agent's name, role and capacity (how many open conversations auto-assignment gives them).

    Locks the agent's row and every active admin's, in id order, so two admins demoting each other at
    once cannot leave nobody in charge. Refused: an admin demoting themselves, or demoting the last
    active admin. Someone who becomes a social manager, or an admin who becomes a lead or agent and
    loses inboxes, has their conversations there returned to the queue (module docstring).
    """
    _require_admin(actor)
    name, role = _clean_name(name), _clean_role(role)
    if not 0 <= capacity <= MAX_CAPACITY:
        raise ManagementError(f"Capacity must be between 0 and {MAX_CAPACITY}.", field="capacity")
    with transaction.atomic():
        locked, admin_ids = _lock_with_admins(user)
        if role != User.Role.ADMIN and not locked.is_superuser and locked.role == User.Role.ADMIN:
            _guard_admin_leaving(locked, active_admin_ids=admin_ids, actor=actor, change="demote")
        accounts_services.user_profile_update(user=locked, name=name, role=role, capacity=capacity)
        realtime.publish_access_changed(user_ids=[locked.pk])
    _release_unworkable(user_ids=[locked.pk], actor=actor)
    return locked


def agent_memberships_set(*, user: User, actor: User, team_ids: Iterable[int], inbox_ids: Iterable[int]) -> User:
    """Make ``user``'s teams and direct inbox memberships exactly these. Locks the user's row.

    Conversations in inboxes they no longer see go back to the queue (module docstring).
    """
    _require_admin(actor)
    teams, inboxes = _teams(team_ids), _inboxes(inbox_ids)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        accounts_services.user_teams_set(user=locked, team_ids=[t.pk for t in teams])
        _set_rows(InboxMembership.objects.filter(user=locked), "inbox_id", {i.pk for i in inboxes}, user=locked)
        realtime.publish_access_changed(user_ids=[locked.pk])
    _release_unworkable(user_ids=[locked.pk], actor=actor)
    return locked


def agent_deactivate(*, user: User, actor: User) -> int:
    """Take an agent out at once and return how many of their conversations went back to the queue.

    Sets ``is_active=False`` (their session stops working: Django's ``ModelBackend`` loads no inactive
    user, and the inbox websocket refuses them) and presence ``offline`` (announced), under the same locks and
    guards as ``agent_update`` (nobody deactivates themselves or the last active admin). Then every
    conversation assigned to them that is not resolved is unassigned, keeping its team, with an
    activity row and a live event each, and auto-assignment runs for the inboxes that have it on
    (module docstring). Deactivating someone already inactive only finishes that sweep.
    """
    _require_admin(actor)
    with transaction.atomic():
        locked, admin_ids = _lock_with_admins(user)
        if locked.is_active:
            _guard_admin_leaving(locked, active_admin_ids=admin_ids, actor=actor, change="deactivate")
            accounts_services.user_active_set(user=locked, active=False)
        agent_status.agent_status_record(user=locked)  # offline, being inactive
        realtime.publish_access_changed(user_ids=[locked.pk])
    return _release_unworkable(user_ids=[locked.pk], actor=actor)


def agent_reactivate(*, user: User, actor: User) -> User:
    """Let a deactivated agent log in again, with the role and memberships they had; presence stays
    offline until they set it. Conversations they held before are not given back. Locks their row."""
    _require_admin(actor)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        accounts_services.user_active_set(user=locked, active=True)
    return locked


# Teams -----------------------------------------------------------------------------------------


def team_create(*, name: str, actor: User) -> Team:
    """A new team with nobody in it. Names are unique, whatever their case."""
    _require_admin(actor)
    name = _clean_team_name(name)
    with transaction.atomic():
        _refuse_taken_team_name(name)
        try:
            with transaction.atomic():
                return accounts_services.team_create(name=name)
        except IntegrityError:
            raise _team_name_taken(name) from None


def team_rename(*, team: Team, actor: User, name: str) -> Team:
    """Rename a team (unique names, whatever their case). Locks the team's row."""
    _require_admin(actor)
    name = _clean_team_name(name)
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        _refuse_taken_team_name(name, exclude_pk=locked.pk)
        try:
            with transaction.atomic():
                accounts_services.team_rename(team=locked, name=name)
        except IntegrityError:
            raise _team_name_taken(name) from None
    return locked


def team_delete(*, team: Team, actor: User) -> None:
    """Delete a team: its memberships and inbox links go with it, and its conversations keep no team
    (``Conversation.team`` is SET NULL, without activity rows). Members who no longer see an inbox
    hand its conversations back to the queue (module docstring). Locks the team's row."""
    _require_admin(actor)
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        member_ids = list(locked.memberships.values_list("user_id", flat=True))
        accounts_services.team_delete(team=locked)
        realtime.publish_access_changed(user_ids=member_ids)
    _release_unworkable(user_ids=member_ids, actor=actor)


def team_members_set(*, team: Team, actor: User, user_ids: Iterable[int]) -> Team:
    """Make the team's members exactly ``user_ids``. Locks the team's row; those removed hand back the
    conversations of inboxes they no longer see (module docstring)."""
    _require_admin(actor)
    users = _users(user_ids)
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        before = set(locked.memberships.values_list("user_id", flat=True))
        accounts_services.team_members_set(team=locked, user_ids=[u.pk for u in users])
        realtime.publish_access_changed(user_ids=before ^ {u.pk for u in users})
    _release_unworkable(user_ids=sorted(before - {u.pk for u in users}), actor=actor)
    return locked


def team_inboxes_set(*, team: Team, actor: User, inbox_ids: Iterable[int]) -> Team:
    """Make the inboxes the team works exactly ``inbox_ids``. Locks the team's row; members who lose an
    inbox hand back its conversations (module docstring)."""
    _require_admin(actor)
    inboxes = _inboxes(inbox_ids)
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        locked.inboxes.set(inboxes)
        member_ids = list(locked.memberships.values_list("user_id", flat=True))
        realtime.publish_access_changed(user_ids=member_ids)
    _release_unworkable(user_ids=member_ids, actor=actor)
    return locked


# Inboxes ---------------------------------------------------------------------------------------


def inbox_members_set(*, inbox: Inbox, actor: User, user_ids: Iterable[int]) -> Inbox:
    """Make the inbox's direct members exactly ``user_ids`` (members of its teams work it too).
    Locks the inbox's row; those removed hand back its conversations (module docstring)."""
    _require_admin(actor)
    users = _users(user_ids)
    with transaction.atomic():
        locked = Inbox.objects.select_for_update().get(pk=inbox.pk)
        before = set(locked.memberships.values_list("user_id", flat=True))
        _set_rows(locked.memberships.all(), "user_id", {u.pk for u in users}, inbox=locked)
        realtime.publish_access_changed(user_ids=before ^ {u.pk for u in users})
    _release_unworkable(user_ids=sorted(before - {u.pk for u in users}), actor=actor)
    return locked


def inbox_teams_set(*, inbox: Inbox, actor: User, team_ids: Iterable[int]) -> Inbox:
    """Make the teams that work the inbox exactly ``team_ids``. Locks the inbox's row; members of the
    teams removed who no longer see it hand back its conversations (module docstring)."""
    _require_admin(actor)
    teams = _teams(team_ids)
    with transaction.atomic():
        locked = Inbox.objects.select_for_update().get(pk=inbox.pk)
        current = set(locked.teams.values_list("pk", flat=True))
        removed = current - {t.pk for t in teams}
        locked.teams.set(teams)
        user_ids = list(TeamMembership.objects.filter(team_id__in=removed).values_list("user_id", flat=True))
        changed = current ^ {t.pk for t in teams}
        realtime.publish_access_changed(
            user_ids=TeamMembership.objects.filter(team_id__in=changed).values_list("user_id", flat=True)
        )
    _release_unworkable(user_ids=sorted(set(user_ids)), actor=actor)
    return locked


def inbox_auto_assign_set(*, inbox: Inbox, actor: User, enabled: bool) -> Inbox:
    """Switch round-robin auto-assignment on or off for the inbox. Locks the inbox's row (as the
    auto-assigner does); switching it on enqueues ``inbox.auto_assign_pending`` after commit, so the
    conversations already waiting go out at once."""
    _require_admin(actor)
    with transaction.atomic():
        locked = Inbox.objects.select_for_update().get(pk=inbox.pk)
        if locked.auto_assign != enabled:
            locked.auto_assign = enabled
            locked.save(update_fields=["auto_assign"])
            if enabled:
                auto_assign_enqueue(inbox_id=locked.pk)
    return locked


# Helpers ---------------------------------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if not (actor.is_active and actor.is_admin):
        raise ManagementError("Only admins manage agents, teams and inboxes.")


def _lock_with_admins(user: User) -> tuple[User, list[int]]:
    """Lock ``user`` and every active admin, in id order; return the locked ``user`` and the admins' ids."""
    admins = Q(is_active=True) & (Q(role=User.Role.ADMIN) | Q(is_superuser=True))
    rows = list(User.objects.select_for_update().filter(Q(pk=user.pk) | admins).order_by("pk"))
    locked = next(row for row in rows if row.pk == user.pk)
    return locked, [row.pk for row in rows if row.is_active and row.is_admin]


def _guard_admin_leaving(locked: User, *, active_admin_ids: list[int], actor: User, change: str) -> None:
    """Refuse to ``change`` (demote, deactivate) the actor themselves or the last active admin."""
    field = "role" if change == "demote" else None
    if locked.pk == actor.pk:
        raise ManagementError(f"You cannot {change} yourself: ask another admin.", field=field)
    if locked.pk in active_admin_ids and len(active_admin_ids) == 1:
        raise ManagementError(
            f"{locked.display_name} is the last active admin: make someone else an admin first.", field=field
        )


def _release_unworkable(*, user_ids: Iterable[int], actor: User) -> int:
    """Unassign what each user may no longer work (see the module docstring); return how many."""
    released = 0
    for user in User.objects.filter(pk__in=list(user_ids)).order_by("pk"):
        held = Conversation.objects.filter(assignee=user).exclude(status=Conversation.Status.RESOLVED)
        if user.is_active and user.role != User.Role.SOCIAL:
            held = held.exclude(inbox__in=inbox_selectors.inboxes_visible_to(user).values("pk"))
        for conversation_id in held.order_by("pk").values_list("pk", flat=True):
            try:
                conversation_assign(
                    conversation_id=conversation_id, assignee=None, actor=actor, expected_assignee_id=user.pk
                )
            except AssignmentConflict:
                continue  # somebody else took it meanwhile: no longer theirs to hand back
            released += 1
    return released


def _set_rows(rows: QuerySet[Any], key: str, wanted: set[int], **fields: object) -> None:
    """Make the inbox membership rows of ``rows`` (a queryset) cover exactly the ids ``wanted`` in ``key``."""
    have = set(rows.values_list(key, flat=True))
    rows.filter(**{f"{key}__in": have - wanted}).delete()
    rows.model.objects.bulk_create([rows.model(**fields, **{key: pk}) for pk in sorted(wanted - have)])


def _clean_email(email: str) -> str:
    email = User.objects.normalize_email(email.strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ManagementError(f"{email!r} is not an email address.", field="email") from None
    return email


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    limit = User._meta.get_field("name").max_length
    if limit is not None and len(name) > limit:
        raise ManagementError(f"A name has at most {limit} characters.", field="name")
    return name


def _refuse_taken_email(email: str) -> None:
    if User.objects.filter(email__iexact=email).exists() or EmailAddress.objects.filter(email__iexact=email).exists():
        raise _email_taken(email)


def _email_taken(email: str) -> ManagementError:
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None and not existing.is_active:
        detail = f"{existing.display_name} was deactivated: reactivate them instead"
    elif existing is not None and not existing.has_usable_password():
        detail = f"{existing.display_name} is invited already: resend their invitation instead"
    else:
        detail = "each address belongs to one agent"
    return ManagementError(f"There is already an agent with the email {email} ({detail}).", field="email")


def _clean_role(role: str) -> str:
    if role not in User.Role.values:
        roles = ", ".join(User.Role.values)
        raise ManagementError(f"Unknown role {role!r}; expected one of {roles}.", field="role")
    return role


def _clean_team_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ManagementError("Give the team a name.", field="name")
    limit = Team._meta.get_field("name").max_length
    if limit is not None and len(name) > limit:
        raise ManagementError(f"A team name has at most {limit} characters.", field="name")
    return name


def _refuse_taken_team_name(name: str, *, exclude_pk: int | None = None) -> None:
    taken = Team.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise _team_name_taken(name)


def _team_name_taken(name: str) -> ManagementError:
    return ManagementError(f"There is already a team named {name!r}.", field="name")


def _by_ids(model: type[Model], ids: Iterable[int], what: str, field: str) -> list[Any]:
    try:
        wanted = {int(pk) for pk in ids}
    except (TypeError, ValueError):
        raise ManagementError(f"Choose {what}s by their ids, which are integers.", field=field) from None
    found = list(model._default_manager.filter(pk__in=wanted).order_by("pk"))
    missing = sorted(wanted - {row.pk for row in found})
    if missing:
        raise ManagementError(f"No {what} with id {', '.join(map(str, missing))}.", field=field)
    return found


def _teams(ids: Iterable[int]) -> list[Team]:
    return _by_ids(Team, ids, "team", "teams")


def _inboxes(ids: Iterable[int]) -> list[Inbox]:
    return _by_ids(Inbox, ids, "inbox", "inboxes")


def _users(ids: Iterable[int]) -> list[User]:
    return _by_ids(User, ids, "agent", "members")


def _request_for_links(request: HttpRequest | None) -> HttpRequest:
    request = request or allauth_context.request
    if request is None:
        raise ManagementError("An invitation link needs the site's address: send it from the Manage pages.")
    return request


def _invitation_send_on_commit(*, user: User, invited_by: User, request: HttpRequest) -> None:
    """Build the invitation email now (allauth's token, link and templates) and send it after commit."""
    key = f"{user_pk_to_url_str(user)}-{default_token_generator.make_token(user)}"
    with allauth_context.request_context(request):
        adapter = get_adapter()
        context = {
            "user": user,
            "invited_by": invited_by,
            "role": user.get_role_display(),
            "invitation_url": adapter.get_reset_password_from_key_url(key),
            "login_url": request.build_absolute_uri(reverse("account_login")),
            "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
            "site_name": request.get_host(),
        }
        message = adapter.render_mail(INVITATION_TEMPLATE, user.email, context)

    def send() -> None:
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as exc:
            raise InvitationNotSent(user, str(exc) or type(exc).__name__) from exc

    transaction.on_commit(send)
