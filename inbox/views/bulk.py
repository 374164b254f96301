"""The conversation list's bulk actions: assign, set status, add or remove a label on many at once."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from inbox import permissions
from inbox.services.bulk import BulkError, bulk_action_parse, conversations_bulk_apply
from inbox.views.common import list_url, plain_error, wants_fragment


@require_POST
@login_required
def bulk_apply(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``conversation``: the selected ids; ``choice``: ``<action>:<value>`` (``assign:me``, ``status:resolved``,
    ``label_add:3``…). The page's script gets JSON (``changed``, ``refused`` by id, ``summary``); a plain form
    post is sent back to the list with the summary as a flash message."""
    if not permissions.may_write(request.user):
        return _failed(request, permissions.READ_ONLY, 403)
    raw_ids = request.POST.getlist("conversation")
    if not all(value.isdigit() for value in raw_ids):
        return _failed(request, "Conversations are selected by id.")
    kind, _, value = request.POST.get("choice", "").partition(":")
    try:
        action = bulk_action_parse(kind=kind, value=value, actor=request.user)
        outcome = conversations_bulk_apply(actor=request.user, conversation_ids=map(int, raw_ids), action=action)
    except BulkError as exc:
        return _failed(request, str(exc))
    if wants_fragment(request):
        refused = {str(pk): reason for pk, reason in outcome.refused.items()}
        return JsonResponse({"changed": outcome.changed, "refused": refused, "summary": outcome.summary()})
    (messages.warning if outcome.refused else messages.success)(request, outcome.summary())
    return redirect(list_url(request))


def _failed(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    if wants_fragment(request):
        return plain_error(message, status)
    messages.error(request, message)
    return redirect(list_url(request))
