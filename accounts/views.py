"""What an agent sets about themselves."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.services import presence_set


@require_POST
@login_required
def presence(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Online, away or offline (only online agents get conversations by auto-assignment); back to ``next``."""
    try:
        presence_set(user=request.user, presence=request.POST.get("presence", ""))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)
