"""OAuth 2.0 Authorization Code with PKCE (x-api.md §6.1): the consent page, the token and revoke endpoints.

Error bodies follow X's token endpoint: ``{"error", "error_description", "errors": [{"code", "message"}]}``,
with X's own description for a bad authorization code. The numbers in ``errors`` are X's v1.1 codes
(32 could not authenticate, 38 missing parameter, 44 invalid parameter, 89 invalid or expired token);
X's exact choice there is unconfirmed.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from twitter_channel.sandbox import oauth, world
from twitter_channel.sandbox.models import App, Token, XUser
from twitter_channel.sandbox.oauth import OAuthError

SCOPES: dict[str, str] = {
    "tweet.read": "See posts from your timeline, including protected posts.",
    "tweet.write": "Post and repost for you.",
    "users.read": "See any account you can view, including protected accounts.",
    "dm.read": "See all your Direct Messages.",
    "dm.write": "Send and manage Direct Messages for you.",
    "offline.access": "Stay connected to your account until you revoke access.",
    "media.write": "Upload media for you.",
    "block.read": "See accounts you have blocked.",
    "like.read": "See posts you have liked and likes you can view.",
    "follows.read": "See who you follow and who follows you.",
}
CHALLENGE_METHODS = {"s256": "S256", "plain": "plain"}
STATE_MAX = 500
CHALLENGE_MAX = 128
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass
class InvalidParameter(Exception):
    parameter: str
    reason: str


@dataclass
class Grant:
    """A validated authorization request."""

    app: App
    redirect_uri: str
    scopes: list[str]
    state: str
    code_challenge: str
    code_challenge_method: str


def _error_response(error: OAuthError) -> HttpResponse:
    body = {"error": error.error, "error_description": error.description,
            "errors": [{"code": error.code, "message": error.message}]}  # fmt: skip
    headers = {"WWW-Authenticate": 'Basic realm="X API"'} if error.status == 401 else {}
    return _json(body, error.status, headers)


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    response["content-type"] = "application/json; charset=utf-8"
    for name, value in {**NO_STORE, **(headers or {})}.items():
        response[name] = value
    return response


# The consent page: GET https://x.com/i/oauth2/authorize


def _absolute_http_url(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.fragment


def _scopes(value: str) -> list[str]:
    requested = list(dict.fromkeys(value.split()))
    if not requested:
        raise InvalidParameter("scope", "is missing: ask for at least one scope, separated by spaces.")
    unknown = [s for s in requested if s not in SCOPES]
    if unknown:
        raise InvalidParameter("scope", f"names unknown scopes ({', '.join(unknown)}); known: {', '.join(SCOPES)}.")
    return requested


def _challenge(params: QueryDict) -> tuple[str, str]:
    challenge = params.get("code_challenge", "")
    if not challenge:
        raise InvalidParameter("code_challenge", "is missing: PKCE is required.")
    if len(challenge) > CHALLENGE_MAX:
        raise InvalidParameter("code_challenge", f"is longer than {CHALLENGE_MAX} characters.")
    method = params.get("code_challenge_method", "plain")
    if method.lower() not in CHALLENGE_METHODS:
        raise InvalidParameter("code_challenge_method", f"is {method!r}; use S256 or plain.")
    return challenge, CHALLENGE_METHODS[method.lower()]


def parse_authorize(params: QueryDict) -> Grant:
    """The authorization request in ``params``, client and redirect URI first (nothing is redirected before)."""
    app = App.objects.filter(client_id=params.get("client_id", "")).first()
    if app is None:
        raise InvalidParameter("client_id", "is missing or names no app registered at X.")
    redirect_uri = params.get("redirect_uri", "")
    if not _absolute_http_url(redirect_uri):
        raise InvalidParameter("redirect_uri", "must be an absolute http(s) URL without a fragment.")
    if params.get("response_type") != "code":
        raise InvalidParameter("response_type", "must be code.")
    state = params.get("state", "")
    if not state or len(state) > STATE_MAX:
        raise InvalidParameter("state", f"is required and may be at most {STATE_MAX} characters long.")
    scopes = _scopes(params.get("scope", ""))
    challenge, method = _challenge(params)
    return Grant(app, redirect_uri, scopes, state, challenge, method)


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _error_page(request: HttpRequest, error: InvalidParameter) -> HttpResponse:
    return render(request, "oauth/authorize.html", {"error": error}, status=400)


def _consent_page(request: HttpRequest, grant: Grant) -> HttpResponse:
    users = list(XUser.objects.order_by("-is_business", "username"))
    context = {
        "grant": grant,
        "scopes": [{"name": s, "description": SCOPES[s]} for s in grant.scopes],
        "business_users": [u for u in users if u.is_business],
        "other_users": [u for u in users if not u.is_business],
        "redirect_host": urlsplit(grant.redirect_uri).netloc,
    }
    return render(request, "oauth/authorize.html", context)


def _decide(request: HttpRequest, grant: Grant) -> HttpResponse:
    decision = request.POST.get("decision")
    if decision == "cancel":
        return HttpResponseRedirect(_with_query(grant.redirect_uri, {"error": "access_denied", "state": grant.state}))
    if decision != "authorize":
        return _error_page(request, InvalidParameter("decision", "must be authorize or cancel."))
    user = XUser.objects.filter(x_id=request.POST.get("user", "")).first()
    if user is None:
        return _error_page(request, InvalidParameter("user", "must be the id of a sandbox X account."))
    code = oauth.code_issue(app=grant.app, user=user, redirect_uri=grant.redirect_uri, scopes=grant.scopes,
                            challenge=grant.code_challenge, method=grant.code_challenge_method)  # fmt: skip
    return HttpResponseRedirect(_with_query(grant.redirect_uri, {"state": grant.state, "code": code.code}))


@csrf_exempt
def authorize(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponse("Use GET or POST.", status=405, headers={"Allow": "GET, POST"})
    try:
        grant = parse_authorize(request.GET)
    except InvalidParameter as error:
        return _error_page(request, error)
    if request.method == "GET":
        return _consent_page(request, grant)
    return _decide(request, grant)


# The token endpoints: POST https://api.x.com/2/oauth2/token and /2/oauth2/revoke


def _invalid_client(message: str) -> OAuthError:
    return OAuthError("invalid_client", "Client authentication failed.", message=message, code=32, status=401)


def _required(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"Missing required parameter [{name}].", code=38)
    return value


def _secret_matches(app: App, given: str) -> bool:
    expected = app.client_secret.encode()
    return any(hmac.compare_digest(expected, candidate.encode()) for candidate in {given, unquote_plus(given)})


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("Missing valid authorization header: use Basic base64(client_id:client_secret).")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError as exc:
        raise _invalid_client("The Basic authorization header is not valid base64.") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid_client("The Basic authorization header must hold client_id:client_secret.")
    return unquote_plus(client_id), secret


def client(request: HttpRequest) -> App:
    """The calling app: confidential (Basic header) or public (``client_id`` in the body)."""
    body_id = request.POST.get("client_id", "")
    header = request.headers.get("Authorization", "")
    if header:
        client_id, secret = _basic_credentials(header)
        app = App.objects.filter(client_id=client_id).first()
        if app is None or not _secret_matches(app, secret):
            raise _invalid_client("The client id or secret in the Authorization header is wrong.")
        if body_id and body_id != app.client_id:
            raise _invalid_client("client_id in the body differs from the one in the Authorization header.")
        return app
    if not body_id:
        raise _invalid_client("Missing valid authorization header, or client_id in the body for a public client.")
    app = App.objects.filter(client_id=body_id).first()
    if app is None:
        raise _invalid_client(f"No app has the client id {body_id!r}.")
    if "client_secret" in request.POST and not _secret_matches(app, request.POST["client_secret"]):
        raise _invalid_client("The client_secret in the body is wrong.")
    return app


def _grant_authorization_code(request: HttpRequest, app: App) -> Token:
    return oauth.code_exchange(
        app=app,
        code=_required(request, "code"),
        redirect_uri=_required(request, "redirect_uri"),
        verifier=_required(request, "code_verifier"),
    )


def _grant_refresh_token(request: HttpRequest, app: App) -> Token:
    return oauth.token_refresh(app=app, refresh_token=_required(request, "refresh_token"))


GRANTS = {"authorization_code": _grant_authorization_code, "refresh_token": _grant_refresh_token}


def _form_post(request: HttpRequest) -> None:
    if request.method != "POST":
        raise OAuthError("invalid_request", "Use POST.", status=405)
    if request.content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "Content-Type must be application/x-www-form-urlencoded.")


def _token_body(token: Token) -> dict[str, Any]:
    body: dict[str, Any] = {"token_type": "bearer", "expires_in": world.ACCESS_TOKEN_SECONDS,
                            "access_token": token.access_token, "scope": token.scopes}  # fmt: skip
    if token.refresh_token:
        body["refresh_token"] = token.refresh_token
    return body


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    try:
        _form_post(request)
        app = client(request)
        grant_type = _required(request, "grant_type")
        if grant_type not in GRANTS:
            raise OAuthError("unsupported_grant_type", f"Grant type {grant_type!r} is not supported.")
        issued = GRANTS[grant_type](request, app)
    except OAuthError as error:
        return _error_response(error)
    return _json(_token_body(issued))


@csrf_exempt
def revoke(request: HttpRequest) -> HttpResponse:
    """Revoke an access or refresh token of the calling app; unknown tokens are answered alike (RFC 7009)."""
    try:
        _form_post(request)
        app = client(request)
        value = _required(request, "token")
    except OAuthError as error:
        return _error_response(error)
    oauth.token_revoke(app=app, value=value)
    return _json({"revoked": True})


urlpatterns = [
    path("i/oauth2/authorize", authorize),
    path("2/oauth2/token", token),
    path("2/oauth2/revoke", revoke),
]
