"""allauth customisation: accounts are created by admins, never by public sign-up; logins are throttled
per IP and per account, a browser that logged in before exempt (``accounts/throttle.py``)."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse

from accounts import throttle


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """Count the attempt against the limits, or refuse it saying for how long (before any password check)."""
        self._attempt = throttle.Attempt(request, _login_of(credentials))
        self._attempt.begin()

    def _rollback_login_failed_rl_usage(self) -> None:
        # allauth calls this when the password was right: the attempt is not a failure.
        attempt = getattr(self, "_attempt", None)
        if attempt is not None:
            attempt.succeeded()

    def _delete_login_attempts_cached_email(self, request: HttpRequest, **credentials: Any) -> None:
        # After a password reset: the account's failures are forgotten.
        throttle.account_clear(request, login=_login_of(credentials))

    def post_login(self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> HttpResponse:
        """Log in as allauth does, and remember this browser for the account (the device cookie)."""
        response = super().post_login(request, user, **kwargs)
        email = getattr(user, "email", "")
        if email:
            throttle.device_remember(request, response, login=email)
        return response


def _login_of(credentials: dict[str, Any]) -> str:
    login = credentials.get("email", credentials.get("username", ""))
    return login if isinstance(login, str) else ""
