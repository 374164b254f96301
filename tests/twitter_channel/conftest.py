"""Backchannel pointed at the running X sandbox, and the steps of connecting an account through it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from accounts.models import User
from tests.factories import make_agent
from tests.xsandbox import BUSINESS_ID, Sandbox


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test keeps media files (DM attachments, reply images) in a folder of its own."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def account(x_sandbox: Sandbox, published):
    """@AcmeSupport connected through the sandbox (a module that needs another account defines its own)."""
    from tests.twitter_channel.connection.test_tokens import connect_through_sandbox

    return connect_through_sandbox(x_sandbox)


@pytest.fixture
def agent(account):
    """An agent who works ``account``'s inbox."""
    from inbox.services.inboxes import inbox_member_add

    agent = make_agent(name="Sam Support")
    inbox_member_add(inbox=account.inbox, user=agent)
    return agent


@pytest.fixture
def x_sandbox(sandbox: Sandbox, settings, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Settings that make Backchannel talk to the sandbox, as `make run` does."""
    app = sandbox.control("GET", "app")
    settings.X_API_BASE_URL = sandbox.base_url
    settings.X_AUTHORIZE_URL = f"{sandbox.base_url}/i/oauth2/authorize"
    settings.X_CLIENT_ID = app["client_id"]
    settings.X_CLIENT_SECRET = app["client_secret"]
    settings.X_BEARER_TOKEN = app["bearer_token"]
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return sandbox


@dataclass
class Consent:
    """X's consent page for one authorization request, driven over HTTP as a browser would."""

    url: str

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}

    def answer(self, decision: str = "authorize", user: str = BUSINESS_ID) -> str:
        """Submit the page; return the callback URL X redirects to."""
        page = requests.get(self.url, timeout=10)
        assert page.status_code == 200, page.text
        response = requests.post(self.url, data={"decision": decision, "user": user}, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["Location"]


def start_connect(client: Client) -> Consent:
    response = client.post("/settings/x-accounts/connect/")
    assert response.status_code == 302, response.content
    return Consent(response["Location"])


def callback_path(callback_url: str) -> str:
    parts = urlsplit(callback_url)
    assert parts.path == "/settings/x-accounts/callback/"
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(make_agent(role=User.Role.ADMIN, email="admin@example.test", name="Ada Admin"))
    return client
