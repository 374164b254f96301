from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest


def list_query(request: HttpRequest) -> dict[str, str]:
    """``list_query``: the open view and search as a query string, so links keep the agent's place."""
    params = {key: request.GET[key] for key in ("view", "q") if request.GET.get(key)}
    return {"list_query": urlencode(params)}


def unread_notifications(request: HttpRequest) -> dict[str, int]:
    """``unread_notifications``: the number on the bell (one query for a logged-in agent)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from inbox.models import Notification

    return {"unread_notifications": Notification.objects.filter(user=user, read_at__isnull=True).count()}


def presence(request: HttpRequest) -> dict[str, int]:
    """``presence_away_after``: seconds without activity before the page tells the server it is idle."""
    return {"presence_away_after": settings.PRESENCE_AWAY_AFTER}
