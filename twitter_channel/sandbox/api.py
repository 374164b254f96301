"""The frame of every X API endpoint: authentication, rate limits, X's headers and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from twitter_channel.sandbox import auth, problems, ratelimit
from twitter_channel.sandbox.models import App, Token, XUser

API_VERSION = "2.159"


@dataclass
class Caller:
    """A call with an OAuth 2.0 user token: the app, the user it acts for, and the token."""

    app: App
    user: XUser
    token: Token


@dataclass
class AppCaller:
    """An app-only call (the app's bearer token): webhook management."""

    app: App


@dataclass
class Result:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    """Raw bytes to answer instead of ``body`` as JSON (media downloads), typed ``content_type``."""
    content_type: str = "application/octet-stream"


View = Callable[..., Result]


def endpoint(
    rate: str, *, methods: tuple[str, ...], scopes: frozenset[str] = frozenset(), app_only: bool = False
) -> Callable[[View], Callable[..., HttpResponse]]:
    """Wrap a view ``(request, caller, **kwargs) -> Result`` as an X API endpoint.

    The view's ``caller`` is a ``Caller`` (user token), or an ``AppCaller`` when ``app_only``.
    """

    def decorate(view: View) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            headers = {"api-version": API_VERSION}
            try:
                if request.method not in methods:
                    raise _method_not_allowed(methods)
                caller = _authenticate(request, scopes, app_only)
                if isinstance(caller, Caller):
                    headers["x-access-level"] = _access_level(caller.token)
                decision = ratelimit.take(
                    endpoint=rate,
                    user_id=caller.user.x_id if isinstance(caller, Caller) else None,
                    app_id=caller.app.app_id,
                )
                headers.update(decision.headers)
                if not decision.allowed:
                    raise problems.too_many_requests({})
                result = view(request, caller, **kwargs)
            except problems.Problem as problem:
                problem.headers = {**headers, **problem.headers}
                return problems.response(problem)
            response = _response(result)
            for name, value in {**headers, **result.headers}.items():
                response[name] = value
            return response

        return wrapper

    return decorate


def by_method(**views: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """One path served by several endpoints (each with its own scopes and rate limit), by HTTP method."""

    @csrf_exempt
    def dispatch(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        view = views.get(request.method or "")
        if view is None:
            problem = _method_not_allowed(tuple(views))
            problem.headers = {"api-version": API_VERSION}
            return problems.response(problem)
        return view(request, **kwargs)

    return dispatch


def _method_not_allowed(methods: tuple[str, ...]) -> problems.Problem:
    detail = f"Use {' or '.join(methods)}."
    return problems.Problem(405, {"title": "Method Not Allowed", "type": "about:blank", "status": 405,
                                  "detail": detail})  # fmt: skip


def _response(result: Result) -> HttpResponse:
    if result.content is not None:
        return HttpResponse(result.content, status=result.status, content_type=result.content_type)
    response = JsonResponse(result.body, status=result.status, json_dumps_params={"ensure_ascii": False})
    response["content-type"] = "application/json; charset=utf-8"
    return response


def _authenticate(request: HttpRequest, scopes: frozenset[str], app_only: bool) -> Caller | AppCaller:
    if app_only:
        return AppCaller(app=auth.app_token(request))
    token = auth.user_token(request, set(scopes))
    return Caller(app=token.app, user=token.user, token=token)


def _access_level(token: Token) -> str:
    scopes = token.scope_set
    if "dm.write" in scopes or "dm.read" in scopes:
        return "read-write-directmessages"
    return "read-write" if "tweet.write" in scopes else "read"


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, or X's 400 problem."""
    if not request.content_type or request.content_type != "application/json":
        raise problems.invalid_request("Content-Type must be application/json.")
    try:
        body = json.loads(request.body or b"")
    except ValueError as exc:
        raise problems.invalid_request(f"Request body is not valid JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise problems.invalid_request("Request body must be a JSON object.")
    return body


def query(request: HttpRequest, allowed: dict[str, tuple[str, ...] | None]) -> dict[str, str]:
    """Check query parameters the way X does: unknown names and values are a 400 problem.

    ``allowed`` maps a parameter to its permitted comma-separated values (``None``: any value).
    """
    params: dict[str, str] = {}
    for name in request.GET:
        if name not in allowed:
            raise problems.invalid_request(
                f"The query parameter [{name}] is not one of [{','.join(allowed)}]", {name: [request.GET[name]]}
            )
        value = request.GET[name]
        choices = allowed[name]
        if choices is not None:
            for item in value.split(","):
                if item not in choices:
                    raise problems.invalid_request(
                        f"The `{name}` query parameter value [{item}] is not one of [{','.join(choices)}]",
                        {name: [value]},
                    )
        params[name] = value
    return params


def csv_param(params: dict[str, str], name: str) -> list[str]:
    return [v for v in params.get(name, "").split(",") if v]
