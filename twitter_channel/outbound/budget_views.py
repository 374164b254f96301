"""The composer's line about the X account's sending budget ("187 of 200 left this 15 minutes")."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from inbox.selectors.access import inboxes_visible_to
from twitter_channel.models import XAccount
from twitter_channel.outbound import ratelimit


@require_GET
@login_required
def send_budget(request: AuthenticatedHttpRequest, inbox_id: int) -> HttpResponse:
    """A fragment for agents who may see the inbox; 404 otherwise, as for an inbox without an X account."""
    if not inboxes_visible_to(request.user).filter(pk=inbox_id).exists():
        raise Http404("No such inbox among yours.")
    account = XAccount.objects.filter(inbox_id=inbox_id).select_related("inbox").first()
    if account is None:
        raise Http404("This inbox has no X account.")
    return render(
        request, "twitter_channel/_budget.html", {"account": account, "budget": ratelimit.budget(account=account)}
    )
