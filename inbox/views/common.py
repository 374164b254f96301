"""What the inbox views share: fragment detection, plain-text errors, the visible conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.http import AuthenticatedHttpRequest
from inbox.models import Conversation
from inbox.selectors.thread import conversation_for_user

FRAGMENT_HEADER = "X-Fragment"


def wants_fragment(request: HttpRequest) -> bool:
    """True for the page's own fetches (they send ``X-Fragment: 1``); plain form posts get a redirect."""
    return request.headers.get(FRAGMENT_HEADER) == "1"


def plain_error(message: str, status: int = 400) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def visible_conversation(request: AuthenticatedHttpRequest, conversation_id: int) -> Conversation:
    conversation = conversation_for_user(request.user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation in your inboxes.")
    return conversation


def conversation_url(conversation_id: int, request: HttpRequest) -> str:
    return _with_return_query(reverse("inbox:conversation", args=[conversation_id]), request)


def list_url(request: HttpRequest) -> str:
    """The list the agent posted from (its view and search), for a plain form post's redirect."""
    return _with_return_query(reverse("inbox:home"), request)


def _with_return_query(url: str, request: HttpRequest) -> str:
    query = request.POST.get("return_query") or ""
    return f"{url}?{query}" if query and "\n" not in query else url


def refused(request: HttpRequest, conversation_id: int, message: str, status: int = 400) -> HttpResponse:
    """A refused action: the message as plain text for the page's scripts, a flash message otherwise."""
    if wants_fragment(request):
        return plain_error(message, status)
    messages.error(request, message)
    return redirect(conversation_url(conversation_id, request))


# What to flash or where to go after a form's change: a value, or a function of what the service returned.
OfResult = str | Callable[[Any], str]


def form_submit(
    request: HttpRequest,
    form: forms.Form,
    apply: Callable[[dict[str, Any]], Any],
    *,
    done: OfResult,
    to: OfResult,
    failed: Callable[[forms.Form], HttpResponse],
) -> HttpResponse:
    """Run ``apply`` (one service call) on a valid form, flash ``done`` and redirect to ``to``; otherwise
    ``failed(form)`` with status 400. A ``ValidationError`` from the service goes on the form: on its
    field when the error names one the form has, else above the fields."""
    if form.is_valid():
        try:
            result = apply(form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.update_error_dict({}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, done(result) if callable(done) else done)
            return redirect(to(result) if callable(to) else to)
    response = failed(form)
    response.status_code = 400
    return response
