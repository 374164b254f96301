from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from inbox import selectors
from inbox.models import Conversation

PAGE_SIZE = 50


@login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    if status not in Conversation.Status.values:
        status = None
    conversations = selectors.conversation_list_for_user(request.user, status=status)[:PAGE_SIZE]
    return render(
        request,
        "inbox/conversation_list.html",
        {"conversations": conversations, "status": status, "statuses": Conversation.Status.choices},
    )
