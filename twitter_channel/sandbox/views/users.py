"""v2 users: ``/2/users/me`` and lookups by id and username."""

from __future__ import annotations

from django.http import HttpRequest

from twitter_channel.sandbox import problems, serialize
from twitter_channel.sandbox.api import Caller, Result, csv_param, endpoint, query
from twitter_channel.sandbox.models import XUser

READ = frozenset({"tweet.read", "users.read"})
PARAMS: dict[str, tuple[str, ...] | None] = {
    "user.fields": serialize.USER_FIELDS,
    "expansions": serialize.USER_EXPANSIONS,
    "tweet.fields": serialize.TWEET_FIELDS,
}


def _not_found(value: str, parameter: str) -> dict:
    return problems.not_found("user", value, parameter).body["errors"][0]


def _one(request: HttpRequest, caller: Caller, found: XUser | None, value: str, parameter: str) -> Result:
    params = query(request, PARAMS)
    if found is None:
        # X answers a lookup of an unknown user with 200 and an `errors` array.
        return Result({"errors": [_not_found(value, parameter)]})
    return Result({"data": serialize.user(found, csv_param(params, "user.fields"), caller.user)})


def _many(request: HttpRequest, caller: Caller, name: str, lookup: str) -> Result:
    params = query(request, {**PARAMS, name: None})
    values = csv_param(params, name)
    if not 1 <= len(values) <= 100:
        raise problems.invalid_request(f"`{name}` must list 1 to 100 values.", {name: [params.get(name, "")]})
    wanted = {v.lower() for v in values}
    candidates = XUser.objects.all() if lookup == "username" else XUser.objects.filter(x_id__in=values)
    users = {getattr(u, lookup).lower(): u for u in candidates if getattr(u, lookup).lower() in wanted}
    fields = csv_param(params, "user.fields")
    body: dict = {}
    data = [serialize.user(users[v.lower()], fields, caller.user) for v in values if v.lower() in users]
    missing = [_not_found(v, name) for v in values if v.lower() not in users]
    if data:
        body["data"] = data
    if missing:
        body["errors"] = missing
    return Result(body)


@endpoint("users_me", methods=("GET",), scopes=READ)
def me(request: HttpRequest, caller: Caller) -> Result:
    params = query(request, PARAMS)
    return Result({"data": serialize.user(caller.user, csv_param(params, "user.fields"), caller.user)})


@endpoint("users_lookup", methods=("GET",), scopes=READ)
def by_id(request: HttpRequest, caller: Caller, user_id: str) -> Result:
    return _one(request, caller, XUser.objects.filter(x_id=user_id).first(), user_id, "id")


@endpoint("users_lookup", methods=("GET",), scopes=READ)
def by_username(request: HttpRequest, caller: Caller, username: str) -> Result:
    return _one(request, caller, XUser.objects.filter(username__iexact=username).first(), username, "username")


@endpoint("users_lookup", methods=("GET",), scopes=READ)
def by_ids(request: HttpRequest, caller: Caller) -> Result:
    return _many(request, caller, "ids", "x_id")


@endpoint("users_lookup", methods=("GET",), scopes=READ)
def by_usernames(request: HttpRequest, caller: Caller) -> Result:
    return _many(request, caller, "usernames", "username")
