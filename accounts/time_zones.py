"""The agent's time zone: which names are valid, and the one each request is rendered in.

An agent picks a zone on ``/me/preferences/`` (``AgentPreferences.time_zone``) or leaves it blank to follow
their browser: then every page's script (``static/js/zone.js``) stores the browser's zone
(``Intl.DateTimeFormat().resolvedOptions().timeZone``) in the ``BROWSER_ZONE_COOKIE`` cookie, and the
middleware renders the next requests in it. Server-rendered times (``|date``, ``snooze_options``) follow
``django.utils.timezone``'s active zone, which ``TimeZoneMiddleware`` sets for every request.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

BROWSER_ZONE_COOKIE = "backchannel_tz"


def time_zone_valid(name: str) -> bool:
    """Whether ``name`` is one of the IANA time zones this server knows (``zoneinfo.available_timezones``)."""
    return name in _time_zones()


def time_zone_names() -> list[str]:
    """Every IANA zone name this server knows, sorted (the preferences page's choices)."""
    return sorted(_time_zones())


# Files in the zone database that are not zones a person lives in (Debian's tzdata has "localtime").
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def request_time_zone(request: HttpRequest) -> tuple[str, bool]:
    """The zone ``request`` is rendered in and whether it is the browser's (no zone chosen in the profile).

    The logged-in agent's chosen zone; else the browser's zone from the cookie when it is a valid name;
    else the server's ``TIME_ZONE`` (the first page, before the browser said its zone).
    """
    from accounts.selectors import time_zone_of

    user = getattr(request, "user", None)
    chosen = time_zone_of(user.pk) if user is not None and user.is_authenticated else ""
    if chosen and time_zone_valid(chosen):
        return chosen, False
    browser = request.COOKIES.get(BROWSER_ZONE_COOKIE, "")
    return (browser if time_zone_valid(browser) else settings.TIME_ZONE), True


class TimeZoneMiddleware:
    """Activates the agent's time zone for the request (``request_time_zone``) and records it on the request
    as ``time_zone`` and ``time_zone_from_browser`` for the page (``<html data-time-zone>``). Goes after
    ``AuthenticationMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name, from_browser = request_time_zone(request)
        request.time_zone, request.time_zone_from_browser = name, from_browser  # type: ignore[attr-defined]
        timezone.activate(zoneinfo.ZoneInfo(name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
