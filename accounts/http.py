"""The request of a view behind login, for the type checker."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """An ``HttpRequest`` whose user is logged in: the annotation of views behind ``login_required``,
    ``admin_required`` or another decorator built on them, so ``request.user`` is a ``User`` and never
    ``AnonymousUser``. Django still passes a plain ``HttpRequest``: this class is never instantiated."""

    user: User
