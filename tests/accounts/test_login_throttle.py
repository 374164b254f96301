"""Login throttling (accounts/throttle.py): an attacker is slowed down per IP and per account, the browser
the person logged in from before is never locked out by someone else's guesses, a new browser waits at
most the window and is told how long, and nothing typed into the form makes it fail."""

from __future__ import annotations

import time as real_time
from collections.abc import Iterator

import pytest
from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts import throttle
from tests.factories import PASSWORD, make_agent

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ATTACKER = "203.0.113.66"
HOME = "198.51.100.10"
ELSEWHERE = "192.0.2.44"


class Clock:
    """A movable ``time`` for allauth's rate limits and ours: ``advance`` instead of sleeping."""

    def __init__(self) -> None:
        self.now = real_time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    monotonic = staticmethod(real_time.monotonic)  # allauth's cache lock waits on these
    sleep = staticmethod(real_time.sleep)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    cache.clear()  # the limits live in the cache (Redis under make test), shared by every test otherwise
    clock = Clock()
    monkeypatch.setattr(ratelimit, "time", clock)
    monkeypatch.setattr(throttle, "time", clock)
    yield clock
    cache.clear()


def attempt(client: Client, email: str, password: str, *, ip: str):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=ip)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(email: str, times: int, *, ip: str = ATTACKER) -> None:
    attacker = Client()
    for _ in range(times):
        response = attempt(attacker, email, "wrong guess", ip=ip)
        assert response.status_code == 200 and not logged_in(attacker)


def test_five_wrong_passwords_lock_a_new_browser_out_for_the_account_saying_how_long(settings):
    agent = make_agent()
    fail(agent.email, settings.LOGIN_FAILURES_PER_ACCOUNT)

    fresh = Client()
    response = attempt(fresh, agent.email, PASSWORD, ip=ELSEWHERE)

    assert not logged_in(fresh)
    assert (
        "Too many failed attempts for this account from new devices. Try again in 15 minutes."
        in response.content.decode()
    )


def test_the_browser_that_logged_in_before_still_gets_in_with_the_right_password(settings):
    agent = make_agent()
    known = Client()
    assert attempt(known, agent.email, PASSWORD, ip=HOME).status_code == 302
    assert throttle.DEVICE_COOKIE in known.cookies
    known.post("/accounts/logout/")
    assert not logged_in(known)

    fail(agent.email, settings.LOGIN_FAILURES_PER_ACCOUNT * 3)  # the attacker keeps going
    response = attempt(known, agent.email, PASSWORD, ip=HOME)

    assert response.status_code == 302 and logged_in(known)


def test_a_device_cookie_for_another_account_or_forged_is_no_exemption(settings):
    agent, other = make_agent(), make_agent()
    browser = Client()
    attempt(browser, other.email, PASSWORD, ip=HOME)  # knows "other", not "agent"
    browser.post("/accounts/logout/")
    fail(agent.email, settings.LOGIN_FAILURES_PER_ACCOUNT)

    refused = attempt(browser, agent.email, PASSWORD, ip=HOME)
    forged = Client()
    forged.cookies[throttle.DEVICE_COOKIE] = "eyJuIjoiYSIsImEiOltdfQ:forged:signature"
    refused_forged = attempt(forged, agent.email, PASSWORD, ip=HOME)

    assert b"from new devices" in refused.content and not logged_in(browser)
    assert b"from new devices" in refused_forged.content and not logged_in(forged)


def test_a_known_browser_that_keeps_failing_becomes_a_stranger(settings):
    agent = make_agent()
    known = Client()
    attempt(known, agent.email, PASSWORD, ip=HOME)
    known.post("/accounts/logout/")
    fail(agent.email, settings.LOGIN_FAILURES_PER_ACCOUNT)  # the account is locked for new devices

    for _ in range(settings.LOGIN_FAILURES_PER_DEVICE):
        assert b"not correct" in attempt(known, agent.email, "my old password", ip=HOME).content
    response = attempt(known, agent.email, PASSWORD, ip=HOME)

    assert b"from new devices" in response.content and not logged_in(known)


def test_after_the_window_a_new_browser_gets_in_and_the_wait_counts_down(settings, clock):
    agent = make_agent()
    fail(agent.email, settings.LOGIN_FAILURES_PER_ACCOUNT)
    fresh = Client()

    clock.advance(10 * 60)
    later = attempt(fresh, agent.email, PASSWORD, ip=ELSEWHERE)
    clock.advance(5 * 60 + 1)
    after = attempt(fresh, agent.email, PASSWORD, ip=ELSEWHERE)

    assert b"Try again in 5 minutes." in later.content
    assert after.status_code == 302 and logged_in(fresh)


def test_one_ip_failing_across_accounts_is_stopped_and_others_are_not(settings):
    agents = [make_agent() for _ in range(settings.LOGIN_FAILURES_PER_IP // 4 + 1)]
    attacker = Client()
    failures = 0
    for agent in agents:  # four wrong passwords each: no account reaches its own limit
        for _ in range(4):
            if failures < settings.LOGIN_FAILURES_PER_IP:
                attempt(attacker, agent.email, "wrong", ip=ATTACKER)
                failures += 1
    target = agents[-1]

    from_attacker = attempt(attacker, target.email, PASSWORD, ip=ATTACKER)
    elsewhere = Client()
    from_elsewhere = attempt(elsewhere, target.email, PASSWORD, ip=ELSEWHERE)

    assert "Too many failed attempts from your network. Try again in 15 minutes." in from_attacker.content.decode()
    assert not logged_in(attacker)
    assert from_elsewhere.status_code == 302 and logged_in(elsewhere)


def test_successful_logins_are_not_counted_as_failures(settings):
    agent = make_agent()
    browser = Client()
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT + 2):
        assert attempt(browser, agent.email, PASSWORD, ip=ELSEWHERE).status_code == 302
        browser.post("/accounts/logout/")
        browser.cookies.pop(throttle.DEVICE_COOKIE, None)  # a new browser every time

    fail(agent.email, settings.LOGIN_FAILURES_PER_ACCOUNT - 1)
    assert attempt(Client(), agent.email, PASSWORD, ip=ELSEWHERE).status_code == 302


def test_a_password_reset_clears_the_accounts_failures(settings, rf):
    agent = make_agent()
    fail(agent.email, settings.LOGIN_FAILURES_PER_ACCOUNT)

    from accounts.adapters import AccountAdapter

    AccountAdapter()._delete_login_attempts_cached_email(rf.post(LOGIN, REMOTE_ADDR=HOME), email=agent.email)

    assert attempt(Client(), agent.email, PASSWORD, ip=ELSEWHERE).status_code == 302


login_text = st.text(st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["", " ", "a@b", "x" * 5000, "\x00", "'; DROP TABLE accounts_user; --", "🙂@例え.テスト"]
)


# What a cookie header can carry (ASCII, no separators); a signed-looking value is one of them.
cookie_text = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=';",\\'), max_size=200)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(login=login_text, password=login_text, cookie=cookie_text)
def test_hostile_input_on_the_login_form_never_fails_the_server(login, password, cookie):
    client = Client()
    if cookie:
        client.cookies[throttle.DEVICE_COOKIE] = cookie
    response = client.post(LOGIN, {"login": login, "password": password}, REMOTE_ADDR=ELSEWHERE)

    assert response.status_code in (200, 302, 400, 429), response.status_code
    cache.clear()  # the "login" limit (30 a minute from one IP) would turn later examples into 429s


@pytest.mark.parametrize(
    "body",
    [b"login=%FF%FE%00&password=%C0%AF", b"login[]=a&login[]=b&password=x", b"password=only", b"%%%&&&==="],
    ids=["invalid UTF-8 and NUL", "repeated field", "no login", "garbage"],
)
def test_a_malformed_login_body_is_answered_not_failed(body):
    response = Client().post(LOGIN, body, content_type="application/x-www-form-urlencoded", REMOTE_ADDR=ELSEWHERE)

    assert response.status_code in (200, 400), response.status_code
