"""XClient's token rules, with ``responses``: a 401 renews the user token and retries once, app-only calls
never renew, and calls without the credentials they need fail before any I/O."""

from __future__ import annotations

import pytest

from tests.twitter_channel.x.client_replay import BASE, ME, TIMEOUT, add, bearer, make_client, rsps
from twitter_channel.x.client import StaticUserAuth, XClient
from twitter_channel.x.errors import AuthError

__all__ = ["rsps"]  # the fixture, from client_replay

REAL_401 = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


class RenewingAuth:
    """A UserAuth whose first token X will reject; ``renew`` hands out the next one."""

    def __init__(self, *tokens: str | None) -> None:
        self.tokens = list(tokens)
        self.renewed: list[str] = []

    def access_token(self) -> str:
        return self.tokens[0]

    def renew(self, rejected: str) -> str | None:
        self.renewed.append(rejected)
        return self.tokens[1] if len(self.tokens) > 1 else None


# --- 401 and renewal ---------------------------------------------------------------------------------------


def test_a_401_renews_the_token_and_retries_once(rsps):
    add(rsps, "GET", "/2/users/me", REAL_401, status=401)
    add(rsps, "GET", "/2/users/me", ME)
    auth = RenewingAuth("old-token", "new-token")

    result = make_client(user_auth=auth).me()

    assert result.user.username == "TweepyDev"
    assert auth.renewed == ["old-token"]
    assert [bearer(c) for c in rsps.calls] == ["Bearer old-token", "Bearer new-token"]


def test_a_second_401_is_an_auth_error(rsps):
    add(rsps, "POST", "/2/dm_conversations/with/1/messages", REAL_401, status=401)
    auth = RenewingAuth("old-token", "new-token")

    with pytest.raises(AuthError) as caught:
        make_client(user_auth=auth).dm_send_to_participant("1", text="hi")

    assert auth.renewed == ["old-token"]
    assert [bearer(c) for c in rsps.calls] == ["Bearer old-token", "Bearer new-token"]
    assert (caught.value.status, str(caught.value)) == (
        401,
        "POST /2/dm_conversations/with/1/messages: 401 Unauthorized",
    )


@pytest.mark.parametrize("renewed", [None, "old-token"], ids=["no-new-token", "same-token"])
def test_no_retry_without_a_different_token(rsps, renewed):
    add(rsps, "GET", "/2/users/me", REAL_401, status=401)
    auth = RenewingAuth("old-token", renewed)

    with pytest.raises(AuthError):
        make_client(user_auth=auth).me()

    assert auth.renewed == ["old-token"] and len(rsps.calls) == 1


def test_app_only_401_is_an_auth_error_without_renewal(rsps):
    add(rsps, "GET", "/2/webhooks", REAL_401, status=401)
    auth = RenewingAuth("user-token", "other")

    with pytest.raises(AuthError):
        make_client(user_auth=auth).webhooks()

    assert auth.renewed == [] and bearer(rsps.calls[0]) == "Bearer app-bearer"


def test_v1_invalid_token_code_89_is_an_auth_error(rsps):
    body = {"errors": [{"code": 89, "message": "Invalid or expired token."}]}
    add(rsps, "POST", "/1.1/direct_messages/indicate_typing.json", body, status=400)

    with pytest.raises(AuthError, match=r"Invalid or expired token\. \(code 89\)"):
        make_client().indicate_typing("1")


def test_calls_without_the_needed_credentials_fail_before_any_io(rsps):
    no_user = XClient(app_bearer="app", base_url=BASE, timeout=TIMEOUT)
    no_app = XClient(user_auth=StaticUserAuth("t"), base_url=BASE, timeout=TIMEOUT)

    with pytest.raises(RuntimeError, match=r"GET /2/users/me acts as an X account: build XClient\(user_auth=...\)"):
        no_user.me()
    with pytest.raises(RuntimeError, match="user_auth"):
        no_user.dm_events_pages()  # checked when called, not at the first next()
    with pytest.raises(RuntimeError, match=r"GET /2/webhooks needs the app's bearer token"):
        no_app.webhooks()
    assert len(rsps.calls) == 0
