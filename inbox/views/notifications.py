"""The agent's notifications: mentions and assignments, newest first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from inbox.models import Notification
from inbox.services.notifications import notifications_mark_read

SHOWN = 50


@require_GET
@login_required
def notification_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    notifications = (
        Notification.objects.filter(user=request.user)
        .select_related("actor", "conversation__contact")
        .order_by("-created_at", "-id")[:SHOWN]
    )
    return render(request, "inbox/notifications.html", {"notifications": notifications})


@require_POST
@login_required
def notifications_read(request: AuthenticatedHttpRequest) -> HttpResponse:
    notifications_mark_read(user=request.user)
    return redirect("inbox:notifications")
