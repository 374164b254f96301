"""The admins' audit log: every conversation's activity, newest first, with who did it."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import admin_required
from accounts.http import AuthenticatedHttpRequest
from inbox.models import ConversationEvent

SHOWN = 200


@require_GET
@admin_required
def audit_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    events = ConversationEvent.objects.select_related("actor", "conversation__inbox", "conversation__contact").order_by(
        "-created_at", "-id"
    )[:SHOWN]
    return render(request, "inbox/audit.html", {"events": events, "shown": SHOWN})
