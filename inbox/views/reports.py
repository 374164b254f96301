"""The leads' report page: queues now and the last day, week or month, per X account and per agent."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from inbox.selectors import reports
from inbox.views.common import plain_error


@require_GET
@login_required
def team_report(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``days``: 1, 7 (the default) or 30."""
    if not reports.reports_allowed(request.user):
        raise PermissionDenied("Reports are for leads and admins.")
    raw = request.GET.get("days", "7")
    if not raw.isdigit() or int(raw) not in reports.PERIODS:
        return plain_error(f"'days' must be one of {', '.join(map(str, reports.PERIODS))}, not {raw!r}.")
    report = reports.team_report(request.user, days=int(raw))
    return render(request, "inbox/reports.html", {"report": report, "periods": reports.PERIODS})
