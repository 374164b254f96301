from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render

from inbox import selectors
from inbox.models import Conversation

PAGE_SIZE = 50


@login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    if status is not None and status not in Conversation.Status.values:
        return HttpResponseBadRequest(
            f"Unknown status {status!r}; use one of: {', '.join(Conversation.Status.values)}.",
            content_type="text/plain; charset=utf-8",
        )
    conversations = selectors.conversation_list_for_user(request.user, status=status)[:PAGE_SIZE]
    return render(
        request,
        "inbox/conversation_list.html",
        {"conversations": conversations, "status": status, "statuses": Conversation.Status.choices},
    )
