"""OAuth 2.0 with X (x-api.md §6.1): the PKCE authorization URL, and the token endpoint's three calls.

This is X I/O like ``client.py``, kept apart because it speaks OAuth (form bodies, RFC 6749 errors) rather
than the v2 API. It is built on requests-oauthlib; the verifier is made here and returned, because the two
halves of the flow run in different requests (``OAuth2Session(pkce=...)`` keeps it on one object only).
No models: callers store what these functions return.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from twitter_channel.x.errors import AuthError, PermanentError, RateLimited, Transient
from twitter_channel.x.rate_limits import RateLimit

log = logging.getLogger(__name__)
VERIFIER_LENGTH = 64


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class TokenSet:
    """What X's token endpoint granted. ``repr`` hides the tokens so they never reach a log line."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]


class TokenRefused(AuthError):
    """X's token endpoint refused a code, verifier or token (``error`` / ``description`` as X sent them)."""

    def __init__(self, message: str, *, error: str, description: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error, self.description = error, description


class RefreshRefused(TokenRefused):
    """The refresh token is revoked, used up or unknown: only connecting the account again helps."""


class ClientRejected(PermanentError):
    """X does not accept our client id or secret (``invalid_client``): a configuration problem."""


def token_url() -> str:
    return settings.X_API_BASE_URL.rstrip("/") + "/2/oauth2/token"


def revoke_url() -> str:
    return settings.X_API_BASE_URL.rstrip("/") + "/2/oauth2/revoke"


def _timeout() -> tuple[float, float]:
    return (settings.X_CONNECT_TIMEOUT, settings.X_READ_TIMEOUT)


def _client_auth() -> dict[str, Any]:
    """Confidential clients authenticate with HTTP Basic; public clients send ``client_id`` in the body."""
    if settings.X_CLIENT_SECRET:
        return {"auth": HTTPBasicAuth(settings.X_CLIENT_ID, settings.X_CLIENT_SECRET), "include_client_id": False}
    return {"include_client_id": True}


def authorization_request(*, redirect_uri: str, scopes: Sequence[str]) -> AuthorizationRequest:
    """X's consent URL for a new PKCE (S256) authorization, with its ``state`` and our verifier."""
    client = WebApplicationClient(settings.X_CLIENT_ID)
    verifier = client.create_code_verifier(VERIFIER_LENGTH)
    challenge = client.create_code_challenge(verifier, "S256")
    session = OAuth2Session(settings.X_CLIENT_ID, redirect_uri=redirect_uri, scope=list(scopes))
    url, state = session.authorization_url(
        settings.X_AUTHORIZE_URL, code_challenge=challenge, code_challenge_method="S256"
    )
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


def _error_from(response: requests.Response, refused: type[TokenRefused]) -> Exception:
    where: dict[str, Any] = {
        "status": response.status_code,
        "method": "POST",
        "url": response.url,
        "body": response.text[:2000],
    }
    rate_limit = RateLimit.from_headers(response.headers)
    if response.status_code == 429:
        return RateLimited(f"POST {response.url}: 429 Too Many Requests", rate_limit=rate_limit, **where)
    if response.status_code >= 500:
        return Transient(f"POST {response.url}: X answered {response.status_code}", rate_limit=rate_limit, **where)
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = str(body.get("error") or "") if isinstance(body, dict) else ""
    description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
    description = description or response.reason or "no description"
    message = f"POST {response.url}: {response.status_code} {error or 'error'} — {description}"
    if error == "invalid_client" or response.status_code == 401:
        return ClientRejected(message, title=error, detail=description, rate_limit=rate_limit, **where)
    return refused(message, error=error, description=description, title=error, detail=description,
                   rate_limit=rate_limit, **where)  # fmt: skip


def _checked(refused: type[TokenRefused]):
    def hook(response: requests.Response) -> requests.Response:
        if response.status_code != 200:
            raise _error_from(response, refused)
        return response

    return hook


def _token_set(token: dict[str, Any]) -> TokenSet:
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise Transient("X's token endpoint answered without an access_token.", body=None)
    expires_in = token.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) or (isinstance(expires_in, str) and expires_in.isdigit()):
        expires_at = datetime.now(UTC) + timedelta(seconds=float(expires_in))
    scope = token.get("scope") or ()
    scopes = tuple(scope.split() if isinstance(scope, str) else scope)
    return TokenSet(access_token=access, refresh_token=str(token.get("refresh_token") or ""),
                    expires_at=expires_at, scopes=scopes)  # fmt: skip


def _token_call(call: Callable[[], dict[str, Any]]) -> TokenSet:
    try:
        token = call()
    except Warning as changed:
        # oauthlib raises a Warning (carrying the token) when X grants other scopes than were asked for;
        # the caller decides whether the granted scopes are enough.
        granted = getattr(changed, "token", None)
        if granted is None:
            raise
        token = granted
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise Transient(f"X's token endpoint did not answer: {exc}", url=token_url()) from exc
    except (OAuth2Error, ValueError, json.JSONDecodeError) as exc:
        raise Transient(f"X's token endpoint sent an answer that is not a token: {exc}", url=token_url()) from exc
    return _token_set(dict(token))


def code_exchange(*, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
    """Trade an authorization code and our PKCE verifier for tokens. ``TokenRefused`` when X says no."""
    session = OAuth2Session(settings.X_CLIENT_ID, redirect_uri=redirect_uri)
    session.register_compliance_hook("access_token_response", _checked(TokenRefused))
    return _token_call(
        lambda: session.fetch_token(
            token_url(), code=code, code_verifier=code_verifier, timeout=_timeout(), **_client_auth()
        )
    )


def token_refresh(*, refresh_token: str) -> TokenSet:
    """New access and refresh tokens; the old refresh token stops working. ``RefreshRefused`` when X says no."""
    session = OAuth2Session(settings.X_CLIENT_ID)
    session.register_compliance_hook("refresh_token_response", _checked(RefreshRefused))
    auth = _client_auth()
    extra = {} if auth.get("auth") else {"client_id": settings.X_CLIENT_ID}
    return _token_call(
        lambda: session.refresh_token(
            token_url(), refresh_token=refresh_token, auth=auth.get("auth"), timeout=_timeout(), **extra
        )
    )


def token_revoke(*, token: str) -> None:
    """Revoke an access or refresh token at X (RFC 7009: unknown tokens are not an error)."""
    auth = _client_auth()
    data = {"token": token}
    if not auth.get("auth"):
        data["client_id"] = settings.X_CLIENT_ID
    try:
        response = requests.post(revoke_url(), data=data, auth=auth.get("auth"), timeout=_timeout())
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise Transient(f"X's revoke endpoint did not answer: {exc}", url=revoke_url()) from exc
    if response.status_code != 200:
        raise _error_from(response, TokenRefused)


def token_revoke_quietly(tokens: TokenSet) -> None:
    """Best-effort revocation of tokens we decided not to keep."""
    for token in (tokens.refresh_token, tokens.access_token):
        if token:
            try:
                token_revoke(token=token)
            except (AuthError, PermanentError, Transient) as exc:
                log.warning("Could not revoke an unused X token: %s", exc)
