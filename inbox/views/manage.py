"""Manage (admins only): invite agents and set their roles, teams and inboxes; deactivate them; manage
teams and who works each inbox.

Each view checks the form and calls one ``inbox.services.staffing`` service. A change is a POST that
redirects back with a flash message; bad input or a refused change re-renders the page with the
form's message and status 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import Team, User
from accounts.presence import presences
from inbox.forms import (
    AgentMembershipsForm,
    AgentProfileForm,
    ConfirmForm,
    InboxAutoAssignForm,
    InboxMembersForm,
    InboxTeamsForm,
    InviteForm,
    TeamInboxesForm,
    TeamMembersForm,
    TeamNameForm,
    ids,
)
from inbox.models import Inbox
from inbox.selectors import manage as selectors
from inbox.services import staffing
from inbox.services.staffing import InvitationNotSent, ManagementError
from inbox.views.common import OfResult, form_submit


def _submit(
    request: HttpRequest,
    form: forms.Form,
    apply: Callable[[dict[str, Any]], Any],
    *,
    done: OfResult,
    to: OfResult,
    failed: Callable[[forms.Form], HttpResponse],
) -> HttpResponse:
    """``form_submit`` with the staffing services' refusals (``ManagementError``) on the form. An invitation
    that could not be emailed still created the agent: their page says so."""

    def applied(data: dict[str, Any]) -> Any:
        try:
            return apply(data)
        except InvitationNotSent:
            raise
        except ManagementError as exc:
            raise ValidationError({exc.field or NON_FIELD_ERRORS: [str(exc)]}) from exc

    try:
        return form_submit(request, form, applied, done=done, to=to, failed=failed)
    except InvitationNotSent as exc:
        messages.error(request, f"{exc} Use “Resend invitation” once email works again.")
        return redirect("manage:agent", exc.user.pk)


# Agents ----------------------------------------------------------------------------------------


def _agent(user_id: int) -> User:
    agent = selectors.agent_get(user_id)
    if agent is None:
        raise Http404("No such agent.")
    return agent


def _agent_page(request: AuthenticatedHttpRequest, agent: User, **forms_: forms.Form) -> HttpResponse:
    context = {
        "section": "agents",
        "agent": agent,
        "team_inboxes": selectors.agent_team_inboxes(agent),
        "held": selectors.agent_held_count(agent),
        "is_self": agent.pk == request.user.pk,
        "profile_form": forms_.get("profile_form")
        or AgentProfileForm(initial={"name": agent.name, "role": agent.role, "capacity": agent.capacity}),
        "memberships_form": forms_.get("memberships_form")
        or AgentMembershipsForm(
            initial={"teams": [t.pk for t in agent.teams.all()], "inboxes": [i.pk for i in agent.inboxes.all()]}
        ),
        "status_form": forms_.get("status_form") or ConfirmForm(),
        "invitation_form": forms_.get("invitation_form") or ConfirmForm(),
    }
    return render(request, "inbox/manage/agent.html", context)


@admin_required
@require_GET
def agent_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    listed = list(selectors.agent_list())
    now = presences(listed)
    agents = [
        (agent, selectors.agent_team_inboxes(agent), now[agent.pk], User.Presence(now[agent.pk]).label)
        for agent in listed
    ]
    return render(request, "inbox/manage/agents.html", {"section": "agents", "agents": agents})


@admin_required
@require_http_methods(["GET", "POST"])
def agent_invite(request: AuthenticatedHttpRequest) -> HttpResponse:
    def page(form: forms.Form) -> HttpResponse:
        return render(request, "inbox/manage/invite.html", {"section": "agents", "form": form})

    if request.method == "GET":
        return page(InviteForm())

    def apply(data: dict[str, Any]) -> User:
        return staffing.agent_invite(
            email=data["email"],
            name=data["name"],
            role=data["role"],
            team_ids=ids(data, "teams"),
            inbox_ids=ids(data, "inboxes"),
            invited_by=request.user,
            request=request,
        )

    return _submit(
        request,
        InviteForm(request.POST),
        apply,
        done=lambda user: f"Invitation sent to {user.email}.",
        to=reverse("manage:agents"),
        failed=page,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def agent_detail(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    """The agent's page; a POST saves their name, role and capacity."""
    agent = _agent(user_id)
    if request.method == "GET":
        return _agent_page(request, agent)

    def apply(data: dict[str, Any]) -> None:
        staffing.agent_update(
            user=agent, actor=request.user, name=data["name"], role=data["role"], capacity=data["capacity"]
        )

    return _submit(
        request,
        AgentProfileForm(request.POST),
        apply,
        done=f"Saved {agent.email}.",
        to=reverse("manage:agent", args=[agent.pk]),
        failed=lambda form: _agent_page(request, agent, profile_form=form),
    )


@admin_required
@require_POST
def agent_memberships(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    agent = _agent(user_id)

    def apply(data: dict[str, Any]) -> None:
        staffing.agent_memberships_set(
            user=agent, actor=request.user, team_ids=ids(data, "teams"), inbox_ids=ids(data, "inboxes")
        )

    return _submit(
        request,
        AgentMembershipsForm(request.POST),
        apply,
        done=f"Saved the teams and inboxes of {agent.display_name}.",
        to=reverse("manage:agent", args=[agent.pk]),
        failed=lambda form: _agent_page(request, agent, memberships_form=form),
    )


@admin_required
@require_POST
def agent_deactivate(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    agent = _agent(user_id)

    def done(released: int) -> str:
        back = f"{released} conversation{'' if released == 1 else 's'} went back to the queue"
        return f"{agent.display_name} is deactivated and logged out; {back}."

    return _submit(
        request,
        ConfirmForm(request.POST),
        lambda data: staffing.agent_deactivate(user=agent, actor=request.user),
        done=done,
        to=reverse("manage:agent", args=[agent.pk]),
        failed=lambda form: _agent_page(request, agent, status_form=form),
    )


@admin_required
@require_POST
def agent_reactivate(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    agent = _agent(user_id)
    return _submit(
        request,
        ConfirmForm(request.POST),
        lambda data: staffing.agent_reactivate(user=agent, actor=request.user),
        done=f"{agent.display_name} can log in again.",
        to=reverse("manage:agent", args=[agent.pk]),
        failed=lambda form: _agent_page(request, agent, status_form=form),
    )


@admin_required
@require_POST
def agent_invite_resend(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    agent = _agent(user_id)
    return _submit(
        request,
        ConfirmForm(request.POST),
        lambda data: staffing.agent_invite_resend(user=agent, actor=request.user, request=request),
        done=f"Invitation sent to {agent.email} again.",
        to=reverse("manage:agent", args=[agent.pk]),
        failed=lambda form: _agent_page(request, agent, invitation_form=form),
    )


# Teams -----------------------------------------------------------------------------------------


def _team(team_id: int) -> Team:
    team = selectors.team_get(team_id)
    if team is None:
        raise Http404("No such team.")
    return team


def _team_page(request: HttpRequest, team: Team, **forms_: forms.Form) -> HttpResponse:
    context = {
        "section": "teams",
        "team": team,
        "name_form": forms_.get("name_form") or TeamNameForm(initial={"name": team.name}),
        "members_form": forms_.get("members_form")
        or TeamMembersForm(initial={"members": [u.pk for u in team.members.all()]}),
        "inboxes_form": forms_.get("inboxes_form")
        or TeamInboxesForm(initial={"inboxes": [i.pk for i in team.inboxes.all()]}),
        "delete_form": forms_.get("delete_form") or ConfirmForm(),
    }
    return render(request, "inbox/manage/team.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def team_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every team; a POST creates one."""

    def page(form: forms.Form) -> HttpResponse:
        context = {"section": "teams", "teams": selectors.team_list(), "form": form}
        return render(request, "inbox/manage/teams.html", context)

    if request.method == "GET":
        return page(TeamNameForm())
    return _submit(
        request,
        TeamNameForm(request.POST),
        lambda data: staffing.team_create(name=data["name"], actor=request.user),
        done=lambda team: f"Created the team {team.name}: now choose its members and inboxes.",
        to=lambda team: reverse("manage:team", args=[team.pk]),
        failed=page,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def team_detail(request: AuthenticatedHttpRequest, team_id: int) -> HttpResponse:
    """The team's page; a POST renames it."""
    team = _team(team_id)
    if request.method == "GET":
        return _team_page(request, team)
    return _submit(
        request,
        TeamNameForm(request.POST),
        lambda data: staffing.team_rename(team=team, actor=request.user, name=data["name"]),
        done=lambda renamed: f"Renamed the team to {renamed.name}.",
        to=reverse("manage:team", args=[team.pk]),
        failed=lambda form: _team_page(request, team, name_form=form),
    )


@admin_required
@require_POST
def team_members(request: AuthenticatedHttpRequest, team_id: int) -> HttpResponse:
    team = _team(team_id)
    return _submit(
        request,
        TeamMembersForm(request.POST),
        lambda data: staffing.team_members_set(team=team, actor=request.user, user_ids=ids(data, "members")),
        done=f"Saved the members of {team.name}.",
        to=reverse("manage:team", args=[team.pk]),
        failed=lambda form: _team_page(request, team, members_form=form),
    )


@admin_required
@require_POST
def team_inboxes(request: AuthenticatedHttpRequest, team_id: int) -> HttpResponse:
    team = _team(team_id)
    return _submit(
        request,
        TeamInboxesForm(request.POST),
        lambda data: staffing.team_inboxes_set(team=team, actor=request.user, inbox_ids=ids(data, "inboxes")),
        done=f"Saved the inboxes of {team.name}.",
        to=reverse("manage:team", args=[team.pk]),
        failed=lambda form: _team_page(request, team, inboxes_form=form),
    )


@admin_required
@require_POST
def team_delete(request: AuthenticatedHttpRequest, team_id: int) -> HttpResponse:
    team = _team(team_id)
    return _submit(
        request,
        ConfirmForm(request.POST),
        lambda data: staffing.team_delete(team=team, actor=request.user),
        done=f"Deleted the team {team.name}.",
        to=reverse("manage:teams"),
        failed=lambda form: _team_page(request, team, delete_form=form),
    )


# Inboxes ---------------------------------------------------------------------------------------


def _inbox(inbox_id: int) -> Inbox:
    inbox = selectors.inbox_get(inbox_id)
    if inbox is None:
        raise Http404("No such inbox.")
    return inbox


def _inbox_page(request: HttpRequest, inbox: Inbox, **forms_: forms.Form) -> HttpResponse:
    context = {
        "section": "inboxes",
        "inbox": inbox,
        "members_form": forms_.get("members_form")
        or InboxMembersForm(initial={"members": [u.pk for u in inbox.members.all()]}),
        "teams_form": forms_.get("teams_form") or InboxTeamsForm(initial={"teams": [t.pk for t in inbox.teams.all()]}),
        "auto_assign_form": forms_.get("auto_assign_form")
        or InboxAutoAssignForm(initial={"auto_assign": inbox.auto_assign}),
    }
    return render(request, "inbox/manage/inbox.html", context)


@admin_required
@require_GET
def inbox_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "inbox/manage/inboxes.html", {"section": "inboxes", "inboxes": selectors.inbox_list()})


@admin_required
@require_GET
def inbox_detail(request: AuthenticatedHttpRequest, inbox_id: int) -> HttpResponse:
    return _inbox_page(request, _inbox(inbox_id))


@admin_required
@require_POST
def inbox_members(request: AuthenticatedHttpRequest, inbox_id: int) -> HttpResponse:
    inbox = _inbox(inbox_id)
    return _submit(
        request,
        InboxMembersForm(request.POST),
        lambda data: staffing.inbox_members_set(inbox=inbox, actor=request.user, user_ids=ids(data, "members")),
        done=f"Saved the members of @{inbox.handle}.",
        to=reverse("manage:inbox", args=[inbox.pk]),
        failed=lambda form: _inbox_page(request, inbox, members_form=form),
    )


@admin_required
@require_POST
def inbox_teams(request: AuthenticatedHttpRequest, inbox_id: int) -> HttpResponse:
    inbox = _inbox(inbox_id)
    return _submit(
        request,
        InboxTeamsForm(request.POST),
        lambda data: staffing.inbox_teams_set(inbox=inbox, actor=request.user, team_ids=ids(data, "teams")),
        done=f"Saved the teams of @{inbox.handle}.",
        to=reverse("manage:inbox", args=[inbox.pk]),
        failed=lambda form: _inbox_page(request, inbox, teams_form=form),
    )


@admin_required
@require_POST
def inbox_auto_assign(request: AuthenticatedHttpRequest, inbox_id: int) -> HttpResponse:
    inbox = _inbox(inbox_id)

    return _submit(
        request,
        InboxAutoAssignForm(request.POST),
        lambda data: staffing.inbox_auto_assign_set(inbox=inbox, actor=request.user, enabled=data["auto_assign"]),
        done=lambda saved: f"Auto-assignment is {'on' if saved.auto_assign else 'off'} for @{inbox.handle}.",
        to=reverse("manage:inbox", args=[inbox.pk]),
        failed=lambda form: _inbox_page(request, inbox, auto_assign_form=form),
    )
