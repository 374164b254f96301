"""View decorators for who may do what."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from accounts.http import AuthenticatedHttpRequest


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged-in admins only: others get 403 (anonymous users are sent to the login page)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_admin:
            raise PermissionDenied("Only admins may open this page.")
        return view(request, *args, **kwargs)

    return wrapper
