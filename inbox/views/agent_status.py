"""The agent's own presence choice (the top bar), and everyone's presence for the leads' pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from inbox.selectors import reports
from inbox.services.agent_status import agent_presence_choose


@require_POST
@login_required
def presence(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``presence``: ``auto`` (online while the inbox is open and in use), ``away`` or ``offline``; back to
    ``next``. Only online agents get conversations by auto-assignment."""
    try:
        agent_presence_choose(user=request.user, choice=request.POST.get("presence", ""))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


@require_GET
@login_required
def team_presence(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``{"agents": {"<id>": {"presence", "label"}}}``: the presence now of everyone on the Reports page
    (admins: every agent, as on Manage). Leads and admins only; the pages poll it."""
    if not reports.reports_allowed(request.user):
        raise PermissionDenied("Presence is for leads and admins.")
    return JsonResponse({"agents": reports.team_presence(request.user)})
