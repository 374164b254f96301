"""XClient against the real X sandbox over HTTP when things go wrong: exhausted rate-limit windows, injected
faults (429, 5xx, hangs, resets, accept-then-fail), and expired, revoked or under-scoped tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.twitter_channel.x.client_sandbox import ONE_TO_ONE, acme, insecure_transport, soon, x_client
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel.x.client import StaticUserAuth, XClient
from twitter_channel.x.errors import AuthError, PermanentError, RateLimited, Transient

__all__ = ["acme", "insecure_transport"]  # the fixtures, from client_sandbox


# --- limits, faults and tokens ---------------------------------------------------------------------------------


def test_an_exhausted_window_is_rate_limited_until_its_reset(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "user", "windows": [[900, 1]]})
    acme.dm_send_to_participant(CUSTOMER_ID, text="first")

    with pytest.raises(RateLimited) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, text="second")

    err = caught.value
    assert (err.status, err.title, err.rate_limit.remaining) == (429, "Too Many Requests", 0)
    assert soon(err.reset_at, 900) and err.reset_at > datetime.now(UTC) + timedelta(seconds=800)
    assert sandbox.control("GET", "counters")["messages_by_sender"] == {BUSINESS_ID: 1}


def test_an_exhausted_day_window_waits_for_the_day(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "user", "windows": [[900, 50], [86400, 1]]})
    acme.dm_send_to_participant(CUSTOMER_ID, text="first")

    with pytest.raises(RateLimited) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, text="second")

    assert caught.value.rate_limit.user_24h.remaining == 0
    assert caught.value.reset_at > datetime.now(UTC) + timedelta(hours=23)


def test_an_injected_429_names_its_reset(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "faults", {"kind": "429", "count": 1, "seconds": 120})

    with pytest.raises(RateLimited) as caught:
        acme.dm_events_page()

    assert soon(caught.value.reset_at, 120) and caught.value.reset_at > datetime.now(UTC) + timedelta(seconds=100)
    assert acme.dm_events_page().result_count == 0  # the fault was used up


@pytest.mark.parametrize("kind", ["500", "503"])
def test_injected_server_errors_are_transient(sandbox: Sandbox, acme: XClient, kind):
    sandbox.control("POST", "faults", {"kind": kind, "count": 1, "method": "POST", "path": "/2/dm_conversations"})

    with pytest.raises(Transient) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, text="hello?")

    assert type(caught.value) is Transient and caught.value.status == int(kind)
    assert acme.dm_send_to_participant(CUSTOMER_ID, text="hello again").dm_conversation_id == ONE_TO_ONE


def test_a_hanging_x_is_a_transient_timeout(sandbox: Sandbox):
    sandbox.control("POST", "faults", {"kind": "hang", "count": 1, "method": "GET", "seconds": 1.5})
    client = x_client(sandbox, timeout=(3.0, 0.5))

    # the client gives up after its read timeout: had it waited for the answer, there would be no error
    with pytest.raises(Transient, match=r"GET /2/users/me: no answer within 0.5s"):
        client.me()


def test_a_dropped_connection_is_transient(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "faults", {"kind": "reset", "count": 1})

    with pytest.raises(Transient, match=r"GET /2/dm_events: the connection failed"):
        acme.dm_events_page()

    assert acme.dm_events_page().result_count == 0


def test_accept_then_fail_is_transient_although_the_message_landed(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "faults", {"kind": "accept_then_fail", "count": 1, "method": "POST"})

    with pytest.raises(Transient) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, text="did it go?")

    assert caught.value.status == 503
    assert [e.text for e in acme.participant_events_page(CUSTOMER_ID).events] == ["did it go?"]


def test_an_expired_token_is_an_auth_error(sandbox: Sandbox, acme: XClient):
    sandbox.control("POST", "clock", {"seconds": 7201})

    with pytest.raises(AuthError) as caught:
        acme.me()

    assert (caught.value.status, str(caught.value)) == (401, "GET /2/users/me: 401 Unauthorized")


class RevokedThenFresh:
    """A UserAuth whose stored token was revoked at X; renewing fetches a fresh one."""

    def __init__(self, sandbox: Sandbox, token: str) -> None:
        self.sandbox, self.token, self.renewed = sandbox, token, []

    def access_token(self) -> str:
        return self.token

    def renew(self, rejected: str) -> str | None:
        self.renewed.append(rejected)
        self.token = self.sandbox.token()
        return self.token


def revoke(sandbox: Sandbox, token: str) -> None:
    import requests

    app = sandbox.control("GET", "app")
    response = requests.post(
        f"{sandbox.base_url}/2/oauth2/revoke",
        data={"token": token},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_a_revoked_token_is_renewed_once_and_the_call_retried(sandbox: Sandbox):
    revoked = sandbox.token()
    revoke(sandbox, revoked)
    auth = RevokedThenFresh(sandbox, revoked)
    client = x_client(sandbox, user_auth=auth)

    sent = client.dm_send_to_participant(CUSTOMER_ID, text="after a renewal")

    assert auth.renewed == [revoked]
    assert sandbox.control("GET", "counters")["messages_by_sender"] == {BUSINESS_ID: 1}
    assert sent.dm_conversation_id == ONE_TO_ONE


def test_a_revoked_token_without_renewal_is_an_auth_error(sandbox: Sandbox):
    revoked = sandbox.token()
    revoke(sandbox, revoked)

    with pytest.raises(AuthError, match="401 Unauthorized"):
        x_client(sandbox, user_auth=StaticUserAuth(revoked)).dm_events_page()


def test_a_token_without_dm_scopes_is_forbidden(sandbox: Sandbox):
    client = x_client(sandbox, user_auth=StaticUserAuth(sandbox.token(scopes="tweet.read users.read")))

    with pytest.raises(PermanentError) as caught:
        client.dm_events_page()

    assert type(caught.value) is PermanentError
    assert (caught.value.status, caught.value.title, caught.value.detail) == (403, "Forbidden", "Forbidden")
