"""Who is calling: an OAuth 2.0 user token (DM, users, media) or the app's bearer (webhooks)."""

from __future__ import annotations

from django.http import HttpRequest

from twitter_channel.sandbox import clock, problems
from twitter_channel.sandbox.models import App, Token

UNSUPPORTED_APP_ONLY = problems.Problem(
    403,
    {
        "title": "Unsupported Authentication",
        "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
        "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
        "type": problems.PROBLEM_BASE + "unsupported-authentication",
        "status": 403,
    },
)
UNSUPPORTED_USER = problems.Problem(
    403,
    {
        "title": "Unsupported Authentication",
        "detail": "Authenticating with OAuth 2.0 User Context is forbidden for this endpoint.  Supported "
        "authentication types are [OAuth 2.0 Application-Only].",
        "type": problems.PROBLEM_BASE + "unsupported-authentication",
        "status": 403,
    },
)


def bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def user_token(request: HttpRequest, scopes: set[str]) -> Token:
    """The live user token of the request, holding every scope in ``scopes`` (401 / 403 otherwise)."""
    value = bearer(request)
    if value is None:
        raise problems.unauthorized()
    token = Token.objects.select_related("user", "app").filter(access_token=value).first()
    if token is None:
        if App.objects.filter(bearer_token=value).exists():
            raise UNSUPPORTED_APP_ONLY
        raise problems.unauthorized()
    if token.revoked or token.access_expires_at <= clock.now():
        raise problems.unauthorized()
    if not scopes <= token.scope_set:
        raise problems.forbidden()
    return token


def app_token(request: HttpRequest) -> App:
    value = bearer(request)
    if value is None:
        raise problems.unauthorized()
    app = App.objects.filter(bearer_token=value).first()
    if app is None:
        if Token.objects.filter(access_token=value).exists():
            raise UNSUPPORTED_USER
        raise problems.unauthorized()
    return app
