"""OAuth 2.0 Authorization Code with PKCE in the sandbox, as X runs it (x-api.md §6.1)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from requests_oauthlib import OAuth2Session

from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT_URI = "https://backchannel.example/oauth/x/callback"
SCOPES = "dm.read dm.write tweet.read users.read offline.access"
BAD_CODE = "Value passed for the authorization code was invalid."


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(sandbox: Sandbox, challenge: str, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPES,
        "state": "st4te-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{sandbox.base_url}/i/oauth2/authorize?{query}"


def approve(url: str, user: str = BUSINESS_ID, decision: str = "authorize") -> requests.Response:
    return requests.post(url, data={"user": user, "decision": decision}, allow_redirects=False, timeout=10)


def callback(response: requests.Response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    return f"{location.scheme}://{location.netloc}{location.path}", params


def code_for(sandbox: Sandbox, challenge: str, **overrides: str) -> str:
    return callback(approve(authorize_url(sandbox, challenge, **overrides)))[1]["code"]


def token_request(sandbox: Sandbox, data: dict[str, str], basic: bool = True) -> requests.Response:
    auth = (CLIENT_ID, CLIENT_SECRET) if basic else None
    return requests.post(f"{sandbox.base_url}/2/oauth2/token", data=data, auth=auth, timeout=10)


def exchange(sandbox: Sandbox, code: str, verifier: str, **extra: Any) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    return token_request(sandbox, {**data, **extra.pop("data", {})}, **extra)


def tokens(sandbox: Sandbox, scopes: str = SCOPES) -> dict[str, Any]:
    verifier, challenge = pkce()
    response = exchange(sandbox, code_for(sandbox, challenge, scope=scopes), verifier)
    assert response.status_code == 200, response.text
    return response.json()


def me(sandbox: Sandbox, access_token: str) -> requests.Response:
    return sandbox.api("GET", "/2/users/me", access_token)


def assert_x_error(response: requests.Response, status: int, error: str, description: str | None = None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"error", "error_description", "errors"}
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description
    [detail] = body["errors"]
    assert isinstance(detail["code"], int) and detail["message"]
    return detail["message"]


def test_authorize_page_shows_the_app_scopes_and_accounts_business_first(sandbox: Sandbox):
    response = requests.get(authorize_url(sandbox, pkce()[1]), timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Backchannel (sandbox)" in page
    for scope in SCOPES.split():
        assert f"<code>{scope}</code>" in page
    assert '<label for="user">' in page and '<select id="user" name="user"' in page
    assert page.index(f'value="{BUSINESS_ID}"') < page.index(f'value="{CUSTOMER_ID}"')
    assert ">Authorize app</button>" in page and ">Cancel</button>" in page


def test_full_pkce_round_trip_gives_a_token_that_acts_as_the_approver(sandbox: Sandbox):
    verifier, challenge = pkce()
    url = authorize_url(sandbox, challenge, state="keep-me-exactly")

    redirect, params = callback(approve(url))
    response = exchange(sandbox, params["code"], verifier)

    assert redirect == REDIRECT_URI and params["state"] == "keep-me-exactly"
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "access_token", "scope", "refresh_token"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 7200 and body["scope"] == SCOPES
    user = me(sandbox, body["access_token"])
    assert user.status_code == 200
    assert user.json()["data"] == {"id": BUSINESS_ID, "name": "Acme Support", "username": "AcmeSupport"}


def test_cancel_sends_access_denied_back_with_the_state(sandbox: Sandbox):
    url = authorize_url(sandbox, pkce()[1], state="s1")

    redirect, params = callback(approve(url, decision="cancel"))

    assert redirect == REDIRECT_URI and params == {"error": "access_denied", "state": "s1"}


def test_no_refresh_token_without_offline_access(sandbox: Sandbox):
    body = tokens(sandbox, scopes="tweet.read users.read")

    assert "refresh_token" not in body and body["scope"] == "tweet.read users.read"


def test_wrong_verifier_fails(sandbox: Sandbox):
    _, challenge = pkce()
    code = code_for(sandbox, challenge)

    message = assert_x_error(exchange(sandbox, code, pkce()[0]), 400, "invalid_request", BAD_CODE)

    assert "code_verifier" in message


def test_a_code_is_single_use(sandbox: Sandbox):
    verifier, challenge = pkce()
    code = code_for(sandbox, challenge)
    assert exchange(sandbox, code, verifier).status_code == 200

    message = assert_x_error(exchange(sandbox, code, verifier), 400, "invalid_request", BAD_CODE)

    assert "already used" in message


def test_a_code_expires_after_30_seconds(sandbox: Sandbox):
    verifier, challenge = pkce()
    code = code_for(sandbox, challenge)
    sandbox.control("POST", "clock", {"seconds": 31})

    message = assert_x_error(exchange(sandbox, code, verifier), 400, "invalid_request", BAD_CODE)

    assert "expired" in message


def test_the_redirect_uri_must_be_the_authorized_one(sandbox: Sandbox):
    verifier, challenge = pkce()
    code = code_for(sandbox, challenge)

    response = exchange(sandbox, code, verifier, data={"redirect_uri": "https://evil.example/cb"})

    assert "redirect_uri" in assert_x_error(response, 400, "invalid_request", BAD_CODE)


@pytest.mark.parametrize(
    "auth, data",
    [
        (("unknown-client", CLIENT_SECRET), {}),
        ((CLIENT_ID, "wrong-secret"), {}),
        (None, {"client_id": "unknown-client"}),
        (None, {}),
    ],
    ids=["basic-unknown-id", "basic-wrong-secret", "public-unknown-id", "no-client"],
)
def test_bad_client_authentication_is_401_invalid_client(sandbox: Sandbox, auth, data):
    verifier, challenge = pkce()
    code = code_for(sandbox, challenge)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier, **data}  # fmt: skip

    response = requests.post(f"{sandbox.base_url}/2/oauth2/token", data=form, auth=auth, timeout=10)

    assert_x_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_public_client_authenticates_with_client_id_in_the_body(sandbox: Sandbox):
    verifier, challenge = pkce()
    code = code_for(sandbox, challenge)

    response = exchange(sandbox, code, verifier, data={"client_id": CLIENT_ID}, basic=False)

    assert response.status_code == 200, response.text
    assert me(sandbox, response.json()["access_token"]).status_code == 200


@pytest.mark.parametrize("method", ["plain", "PLAIN", "s256"])
def test_plain_and_lowercase_methods_work(sandbox: Sandbox, method: str):
    verifier, challenge = pkce()
    if method.lower() == "plain":
        challenge = verifier
    code = code_for(sandbox, challenge, code_challenge_method=method)

    assert exchange(sandbox, code, verifier).status_code == 200


def test_a_redirect_uri_with_a_query_keeps_it(sandbox: Sandbox):
    uri = "http://localhost:8000/callback?tenant=7"
    url = authorize_url(sandbox, pkce()[1], redirect_uri=uri, state="s")

    response = approve(url)

    location = response.headers["Location"]
    assert location.startswith("http://localhost:8000/callback?tenant=7&state=s&code=")


def test_refresh_rotates_the_token_pair(sandbox: Sandbox):
    first = tokens(sandbox)
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}

    second = token_request(sandbox, refresh)
    again = token_request(sandbox, refresh)

    assert second.status_code == 200, second.text
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"] and new["access_token"] != first["access_token"]
    assert new["scope"] == SCOPES and new["expires_in"] == 7200
    assert "already used" in assert_x_error(again, 400, "invalid_request")
    assert me(sandbox, new["access_token"]).json()["data"]["username"] == "AcmeSupport"
    assert me(sandbox, first["access_token"]).status_code == 401
    newer = token_request(sandbox, {"grant_type": "refresh_token", "refresh_token": new["refresh_token"],
                                    "client_id": CLIENT_ID}, basic=False)  # fmt: skip
    assert newer.status_code == 200, newer.text


def test_an_unknown_refresh_token_fails(sandbox: Sandbox):
    response = token_request(sandbox, {"grant_type": "refresh_token", "refresh_token": "nope"})

    assert_x_error(response, 400, "invalid_request")


def test_revoking_the_access_token_makes_it_unusable(sandbox: Sandbox):
    issued = tokens(sandbox)
    assert me(sandbox, issued["access_token"]).status_code == 200

    response = requests.post(f"{sandbox.base_url}/2/oauth2/revoke",
                             data={"token": issued["access_token"], "token_type_hint": "access_token",
                                   "client_id": CLIENT_ID}, timeout=10)  # fmt: skip

    assert response.status_code == 200 and response.json() == {"revoked": True}
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert me(sandbox, issued["access_token"]).status_code == 401


def test_revoking_the_refresh_token_stops_refreshes(sandbox: Sandbox):
    issued = tokens(sandbox)

    response = requests.post(f"{sandbox.base_url}/2/oauth2/revoke", data={"token": issued["refresh_token"]},
                             auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)  # fmt: skip
    refresh = token_request(sandbox, {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]})

    assert response.json() == {"revoked": True}
    assert "revoked" in assert_x_error(refresh, 400, "invalid_request")


def test_unsupported_grant_type(sandbox: Sandbox):
    response = token_request(sandbox, {"grant_type": "password", "username": "a", "password": "b"})

    assert_x_error(response, 400, "unsupported_grant_type")


def test_missing_code_verifier_is_named(sandbox: Sandbox):
    code = code_for(sandbox, pkce()[1])

    response = token_request(sandbox, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI})

    assert_x_error(response, 400, "invalid_request", "Missing required parameter [code_verifier].")


@pytest.mark.parametrize(
    "parameter, value",
    [
        ("client_id", "unknown-client"),
        ("client_id", None),
        ("redirect_uri", "/relative/callback"),
        ("redirect_uri", "javascript:alert(1)"),
        ("response_type", "token"),
        ("state", None),
        ("state", "s" * 501),
        ("scope", "dm.read dm.everything"),
        ("scope", ""),
        ("code_challenge", None),
        ("code_challenge_method", "S512"),
    ],
)
def test_invalid_authorize_parameters_are_a_400_page_naming_the_parameter(sandbox: Sandbox, parameter, value):
    url = authorize_url(sandbox, pkce()[1], **{parameter: value})

    for response in (requests.get(url, timeout=10), approve(url)):
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")
        assert f"<code>{parameter}</code>" in response.text


def test_approving_needs_a_known_account(sandbox: Sandbox):
    response = approve(authorize_url(sandbox, pkce()[1]), user="999")

    assert response.status_code == 400 and "<code>user</code>" in response.text


def test_requests_oauthlib_client_does_the_flow(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    verifier, challenge = pkce()
    session = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, scope=SCOPES.split())
    url, state = session.authorization_url(
        f"{sandbox.base_url}/i/oauth2/authorize", code_challenge=challenge, code_challenge_method="S256"
    )
    assert requests.get(url, timeout=10).status_code == 200

    location = approve(url).headers["Location"]
    token = session.fetch_token(
        f"{sandbox.base_url}/2/oauth2/token",
        authorization_response=location,
        client_secret=CLIENT_SECRET,
        code_verifier=verifier,
    )

    assert parse_qs(urlsplit(location).query)["state"] == [state]
    assert token["token_type"] == "bearer" and token["scope"] == SCOPES.split()
    response = session.get(f"{sandbox.base_url}/2/users/me")
    assert response.status_code == 200 and response.json()["data"]["id"] == BUSINESS_ID
