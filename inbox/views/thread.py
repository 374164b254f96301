"""An open conversation: the thread pane, windows of its timeline, single items for live updates."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from inbox.selectors import thread as thread_selectors
from inbox.selectors.canned import canned_suggestions
from inbox.views.common import plain_error, visible_conversation
from inbox.views.pages import thread_context


@require_GET
@login_required
def thread_fragment(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    conversation = visible_conversation(request, conversation_id)
    return render(request, "inbox/_thread.html", thread_context(request, conversation))


@require_GET
@login_required
def header_fragment(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    conversation = visible_conversation(request, conversation_id)
    return render(request, "inbox/_thread_header.html", {"conversation": conversation})


@require_GET
@login_required
def timeline_fragment(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    """The latest window of the timeline, or the window before ``?before=<message id>``."""
    conversation = visible_conversation(request, conversation_id)
    before = None
    if "before" in request.GET:
        raw = request.GET["before"]
        before = conversation.messages.filter(pk=int(raw)).first() if raw.isdigit() else None
        if before is None:
            return plain_error(f"No message {raw!r} in this conversation to load earlier messages before.")
    timeline = thread_selectors.timeline(conversation, before=before)
    return render(request, "inbox/_timeline.html", {"conversation": conversation, "timeline": timeline})


@require_GET
@login_required
def message_fragment(request: AuthenticatedHttpRequest, conversation_id: int, message_id: int) -> HttpResponse:
    conversation = visible_conversation(request, conversation_id)
    entry = thread_selectors.message_item(conversation, message_id)
    if entry is None:
        return plain_error("No such message in this conversation.", 404)
    return render(request, "inbox/_item.html", {"entry": entry, "conversation": conversation})


@require_GET
@login_required
def note_fragment(request: AuthenticatedHttpRequest, conversation_id: int, note_id: int) -> HttpResponse:
    conversation = visible_conversation(request, conversation_id)
    entry = thread_selectors.note_item(conversation, note_id)
    if entry is None:
        return plain_error("No such note in this conversation.", 404)
    return render(request, "inbox/_item.html", {"entry": entry, "conversation": conversation})


@require_GET
@login_required
def canned_fragment(request: AuthenticatedHttpRequest, conversation_id: int) -> JsonResponse:
    """``?q=<shortcut prefix>`` → the matching canned responses, filled in for this conversation, as JSON."""
    conversation = visible_conversation(request, conversation_id)
    prefix = request.GET.get("q", "").strip().lstrip("/")[:50]
    found = canned_suggestions(conversation=conversation, agent=request.user, prefix=prefix)
    return JsonResponse({"suggestions": [{"shortcut": s.shortcut, "title": s.title, "text": s.text} for s in found]})
