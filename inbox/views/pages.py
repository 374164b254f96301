"""The inbox page (three panes) and the fragments its script fetches: list windows, rows, counts."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from accounts.selectors import preferences_of
from inbox import permissions
from inbox.models import Label
from inbox.selectors import access as selectors
from inbox.selectors import conversation_list as list_selectors
from inbox.selectors import thread as thread_selectors
from inbox.selectors.conversation_list import SEARCH_MIN_LENGTH, BadCursor
from inbox.selectors.queues import QueueView, UnknownView, view_for
from inbox.views.common import plain_error, visible_conversation

REPLY_MAX_LENGTH = 10_000  # X's limit for the text of one DM


class BadListRequest(ValueError):
    pass


def _list_request(request: AuthenticatedHttpRequest) -> tuple[QueueView, str]:
    teams, inboxes = list_selectors.nav_scope(request.user)
    try:
        view = view_for(request.GET.get("view") or None, team_ids=teams, inbox_ids=inboxes)
    except UnknownView as exc:
        raise BadListRequest(str(exc)) from exc
    search = " ".join(request.GET.get("q", "").split())[:100]
    if search and len(search) < SEARCH_MIN_LENGTH:
        raise BadListRequest(f"Search for at least {SEARCH_MIN_LENGTH} characters.")
    return view, search


def thread_context(request: AuthenticatedHttpRequest, conversation: Any) -> dict[str, Any]:
    return {
        "conversation": conversation,
        "timeline": thread_selectors.timeline(conversation),
        "sidebar": thread_selectors.sidebar(request.user, conversation),
        "reply_max_length": REPLY_MAX_LENGTH,
        "client_token": uuid.uuid4().hex,
    }


@require_GET
@login_required
def inbox_page(request: AuthenticatedHttpRequest, conversation_id: int | None = None) -> HttpResponse:
    try:
        view, search = _list_request(request)
        page = list_selectors.conversation_page(
            request.user, view=view, search=search, before=request.GET.get("before") or None
        )
    except (BadListRequest, BadCursor) as exc:
        return plain_error(str(exc))
    context: dict[str, Any] = {
        "view": view,
        "search": search,
        "nav": list_selectors.queue_nav(request.user),
        "page": page,
        "ws_path": "/ws/inbox/",
        "debug": settings.DEBUG,
        "bulk": _bulk_choices(request.user),
        "alert_preferences": preferences_of(request.user),
    }
    if conversation_id is not None:
        context.update(thread_context(request, visible_conversation(request, conversation_id)))
    return render(request, "inbox/page.html", context)


def _bulk_choices(user: Any) -> dict[str, Any] | None:
    """What the list's bulk action menu offers ``user`` (None: social managers get no menu)."""
    if not permissions.may_write(user):
        return None
    return {
        "agents": list(selectors.bulk_assignees(user)),
        "teams": list(selectors.bulk_teams(user)),
        "labels": list(Label.objects.all()),
    }


@require_GET
@login_required
def list_fragment(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        view, search = _list_request(request)
        page = list_selectors.conversation_page(
            request.user, view=view, search=search, before=request.GET.get("before") or None
        )
    except (BadListRequest, BadCursor) as exc:
        return plain_error(str(exc))
    return render(request, "inbox/_list_rows.html", {"page": page, "view": view, "search": search})


@require_GET
@login_required
def row_fragment(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    """One list row, or 204 when the conversation does not (or no longer does) belong in the view; 404 for
    a conversation the agent may not see at all."""
    try:
        view, search = _list_request(request)
    except BadListRequest as exc:
        return plain_error(str(exc))
    visible_conversation(request, conversation_id)
    row = list_selectors.conversation_row(request.user, view=view, search=search, conversation_id=conversation_id)
    if row is None:
        return HttpResponse(status=204)
    return render(request, "inbox/_row.html", {"conversation": row, "view": view, "search": search})


@require_GET
@login_required
def counts_fragment(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        view, search = _list_request(request)
    except BadListRequest as exc:
        return plain_error(str(exc))
    return render(request, "inbox/_nav.html", {"nav": list_selectors.queue_nav(request.user), "view": view})
