"""OAuth 2.0 rules of the sandbox's X: authorization codes (PKCE, 30 s, single use), rotating
refresh tokens and revocation. The views in ``views/oauth.py`` parse requests and call these."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from twitter_channel.sandbox import clock, world
from twitter_channel.sandbox.models import App, AuthorizationCode, Token, XUser

CODE_LIFETIME = timedelta(seconds=30)
BAD_CODE = "Value passed for the authorization code was invalid."
BAD_TOKEN = "Value passed for the token was invalid."


class OAuthError(Exception):
    """An error of X's token endpoint: ``error`` code, X's description, and a precise ``message``."""

    def __init__(self, error: str, description: str, *, message: str = "", code: int = 44, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.message, self.code = message or description, code


def _bad_code(message: str) -> OAuthError:
    return OAuthError("invalid_request", BAD_CODE, message=message, code=89)


def _bad_token(message: str) -> OAuthError:
    return OAuthError("invalid_request", BAD_TOKEN, message=message, code=89)


def code_issue(
    *, app: App, user: XUser, redirect_uri: str, scopes: list[str], challenge: str, method: str
) -> AuthorizationCode:
    return AuthorizationCode.objects.create(
        code=secrets.token_urlsafe(48),
        app=app,
        user=user,
        redirect_uri=redirect_uri,
        scopes=" ".join(scopes),
        code_challenge=challenge,
        code_challenge_method=method,
        created_at=clock.now(),
    )


def _pkce_challenge(verifier: str, method: str) -> str:
    if method == "S256":
        return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier


def _check_code(code: AuthorizationCode, redirect_uri: str, verifier: str) -> None:
    if code.used:
        raise _bad_code("The authorization code was already used: codes are single-use.")
    if clock.now() > code.created_at + CODE_LIFETIME:
        raise _bad_code("The authorization code expired: codes are valid for 30 seconds.")
    if redirect_uri != code.redirect_uri:
        raise _bad_code("redirect_uri differs from the one the code was authorized for.")
    expected = _pkce_challenge(verifier, code.code_challenge_method)
    if not hmac.compare_digest(expected.encode(), code.code_challenge.encode()):
        raise _bad_code(f"code_verifier does not match the code_challenge ({code.code_challenge_method}).")


def code_exchange(*, app: App, code: str, redirect_uri: str, verifier: str) -> Token:
    """Trade an authorization code for tokens. The code is used up atomically (a conditional update)."""
    with transaction.atomic():
        found = AuthorizationCode.objects.select_related("user").filter(code=code, app=app).first()
        if found is None:
            raise _bad_code("The authorization code is unknown, or was issued to another app.")
        _check_code(found, redirect_uri, verifier)
        if not AuthorizationCode.objects.filter(pk=found.pk, used=False).update(used=True):
            raise _bad_code("The authorization code was already used: codes are single-use.")
        return world.token_issue(user=found.user, app=app, scopes=found.scopes)


def token_refresh(*, app: App, refresh_token: str) -> Token:
    """Rotate: the old refresh token (and its access token) stop working, a new pair is issued."""
    with transaction.atomic():
        old = Token.objects.select_related("user").filter(refresh_token=refresh_token, app=app).first()
        if old is None:
            raise _bad_token("The refresh token is unknown, or was issued to another app.")
        if old.refresh_used:
            raise _bad_token("The refresh token was already used: refresh tokens are single-use.")
        if old.revoked:
            raise _bad_token("The refresh token was revoked.")
        if not Token.objects.filter(pk=old.pk, refresh_used=False).update(refresh_used=True, revoked=True):
            raise _bad_token("The refresh token was already used: refresh tokens are single-use.")
        return world.token_issue(user=old.user, app=app, scopes=old.scopes)


def token_revoke(*, app: App, value: str) -> None:
    """Revoke the app's access or refresh token ``value``; unknown values change nothing (RFC 7009)."""
    Token.objects.filter(Q(access_token=value) | Q(refresh_token=value), app=app).update(revoked=True)
