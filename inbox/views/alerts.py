"""What the inbox page asks when a customer writes: the unread count for the tab's title and what to alert about."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from inbox.selectors import alerts as selectors
from inbox.views.common import plain_error


@require_GET
@login_required
def alerts(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``{"unread": n, "alerts": [{conversation_id, title, body, url}]}`` for the conversations ``c`` (repeated:
    those just announced as new or written to by the customer); without ``c``, only the count."""
    raw = request.GET.getlist("c")
    if not all(value.isdigit() for value in raw):
        return plain_error("c must be conversation ids.")
    unread, found = selectors.alerts_for(request.user, [int(value) for value in raw])
    return JsonResponse(
        {
            "unread": unread,
            "alerts": [
                {
                    "conversation_id": alert.conversation_id,
                    "title": alert.title,
                    "body": alert.body,
                    "url": reverse("inbox:conversation", args=[alert.conversation_id]),
                }
                for alert in found
            ],
        }
    )
