"""Login throttling that slows an attacker down without locking the real person out (issue 19).

allauth's default counts failed logins per email address for everyone: five wrong passwords from
anywhere refused the right one too, with no word on how long. Here, on allauth's own rate limits
(``settings.ACCOUNT_RATE_LIMITS``, sliding windows in the cache, so shared by every app server):

- ``login_failed_ip``: failures from one IP address (any account), ``LOGIN_FAILURES_PER_IP`` per window;
- ``login_failed_account``: failures for one account from browsers it does not know,
  ``LOGIN_FAILURES_PER_ACCOUNT`` per window;
- a browser that has logged into the account before holds a signed device cookie (OWASP's "device
  cookies") naming it. That browser is exempt from both limits above and counted on its own
  (``login_failed_device``, ``LOGIN_FAILURES_PER_DEVICE`` per window); past that it is a stranger again.

A limit reached refuses the attempt before the password is checked (so guesses are worthless) until
the oldest counted failure leaves the window, and the message says how many minutes that is: at most
``LOGIN_FAILURE_WINDOW`` after the attacker stops, and never for the browser the person always uses.
A successful login is not counted (its attempt is rolled back, as allauth does) and gives the browser
the device cookie. A password reset clears the account's count.

The rate-limit calls are those allauth's adapter makes itself (``allauth.core.internal.ratelimit``):
its public ``allauth.core.ratelimit.consume`` returns no usage to roll back and no way to read when a
limit frees, which the message needs. allauth is pinned in requirements.txt.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from allauth.core.internal import ratelimit
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

APP = "allauth.account"
IP_ACTION = "login_failed_ip"
ACCOUNT_ACTION = "login_failed_account"
DEVICE_ACTION = "login_failed_device"
DEVICE_COOKIE = "bc_device"
DEVICE_SALT = "backchannel.accounts.login-device"
# Accounts one browser is remembered for (the newest kept): a shared desk computer, not a list to grow.
DEVICE_ACCOUNTS_MAX = 10


def account_key(login: str) -> str:
    """The account a login names, as the limits and the device cookie know it (no address in clear)."""
    return hashlib.sha256(login.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass
class Device:
    """What a browser's device cookie says: its own id and the accounts it logged into."""

    nonce: str
    accounts: list[str] = field(default_factory=list)


def device_read(request: HttpRequest) -> Device | None:
    """The browser's device cookie, if it is ours, unaltered and not older than ``LOGIN_DEVICE_COOKIE_DAYS``."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = signing.loads(raw, salt=DEVICE_SALT, max_age=settings.LOGIN_DEVICE_COOKIE_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("n"), str) or not isinstance(value.get("a"), list):
        return None
    return Device(nonce=value["n"], accounts=[a for a in value["a"] if isinstance(a, str)])


def device_remember(request: HttpRequest, response: HttpResponse, *, login: str) -> None:
    """Set the device cookie on ``response``: this browser knows the account ``login`` (a successful login)."""
    device = device_read(request) or Device(nonce=secrets.token_urlsafe(16))
    key = account_key(login)
    accounts = [key] + [a for a in device.accounts if a != key]
    value = signing.dumps({"n": device.nonce, "a": accounts[:DEVICE_ACCOUNTS_MAX]}, salt=DEVICE_SALT)
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=settings.LOGIN_DEVICE_COOKIE_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


class Attempt:
    """One login attempt's place in the limits: ``begin`` counts it or refuses it, ``succeeded`` takes it
    back. Raises ``ValidationError`` (shown on the login form) when a limit is reached."""

    def __init__(self, request: HttpRequest, login: str) -> None:
        self.request = request
        self.login = login
        self.key = account_key(login)
        device = device_read(request)
        self.device_key = f"{device.nonce}:{self.key}" if device and self.key in device.accounts else None
        self._usages: list[Any] = []

    def begin(self) -> None:
        if self.device_key is not None:
            if self._consume(DEVICE_ACTION, key=self.device_key):
                return  # a browser this account used before: its own count only
            self.device_key = None  # too many failures from this browser: a stranger again
        if not self._consume(IP_ACTION):
            self._refuse("Too many failed attempts from your network.", IP_ACTION)
        if not self._consume(ACCOUNT_ACTION, key=self.key):
            self._refuse(
                "Too many failed attempts for this account from new devices.",
                ACCOUNT_ACTION,
                key=self.key,
                after="Or reset your password to get in now.",  # a reset clears the account's count
            )

    def succeeded(self) -> None:
        for usage in self._usages:
            usage.rollback()
        self._usages = []

    def _consume(self, action: str, *, key: str | None = None) -> bool:
        usage = ratelimit.consume(self.request, app=APP, action=action, key=key)
        if usage is None:
            return False
        self._usages.append(usage)
        return True

    def _refuse(self, why: str, action: str, *, key: str | None = None, after: str = "") -> None:
        self.succeeded()  # what this refused attempt counted elsewhere is taken back: it tried no password
        minutes = max(1, math.ceil(seconds_until_free(self.request, action, key=key) / 60))
        wait = f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        raise ValidationError(" ".join(filter(None, [why, wait, after])), code="too_many_login_attempts")


def seconds_until_free(request: HttpRequest, action: str, *, key: str | None = None) -> float:
    """How long until ``action``'s limit lets one more attempt in: when the oldest failure it counts leaves
    its window (the longest of the action's rates)."""
    wait = 0.0
    now = time.time()
    for rate in ratelimit.get_rates(app=APP, action=action):
        history = cache.get(ratelimit.get_cache_key(request, app=APP, action=action, rate=rate, key=key), [])
        live = [ts for ts in history if ts > now - rate.duration]
        if len(live) >= rate.amount:
            # Newest first: the attempt that frees a slot is the amount-th newest.
            wait = max(wait, live[rate.amount - 1] + rate.duration - now)
    return wait


def account_clear(request: HttpRequest, *, login: str) -> None:
    """Forget the failures counted against the account ``login`` (after a password reset)."""
    ratelimit.clear(request, app=APP, action=ACCOUNT_ACTION, key=account_key(login))
