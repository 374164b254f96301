"""Who may open the social managers' handoff pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from accounts.http import AuthenticatedHttpRequest
from twitter_channel.handoff import selectors


def handoff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.handoff_allowed(request.user):
            raise PermissionDenied(selectors.NOT_ALLOWED)
        return view(request, *args, **kwargs)

    return wrapper
