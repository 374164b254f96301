"""Replaying X's answers to XClient with ``responses``: the client under test, the mock, reading what it sent.

Shared by the test_client_* modules that replay recordings, documented examples and hand-made answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from tests.xsandbox import FIXTURES
from twitter_channel.x.client import StaticUserAuth, XClient

BASE = "https://api.twitter.com"  # where every recording was made
TIMEOUT = (3.05, 7.5)
USER_TOKEN = "user-token"
APP_BEARER = "app-bearer"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


ME = load("tweepy_v2_get_users_me.cassette.json")[0]["response"]["body"]


def make_client(**kwargs: Any) -> XClient:
    options: dict[str, Any] = {
        "user_auth": StaticUserAuth(USER_TOKEN),
        "app_bearer": APP_BEARER,
        "base_url": BASE,
        "timeout": TIMEOUT,
    }
    return XClient(**{**options, **kwargs})


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """``responses`` that also insists every request carried the client's ``(connect, read)`` timeout."""
    with responses.RequestsMock() as mock:
        yield mock
        assert [call.request.req_kwargs["timeout"] for call in mock.calls] == [TIMEOUT] * len(mock.calls)


def add(mock: responses.RequestsMock, method: str, path: str, body: Any = None, status: int = 200, **kwargs: Any):
    payload = json.dumps(body) if isinstance(body, dict | list) else body
    kwargs.setdefault("content_type", "application/json; charset=utf-8")
    return mock.add(method, BASE + path, body=payload if payload is not None else "", status=status, **kwargs)


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def epoch(value: str | int) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def bearer(call: Any) -> str:
    return call.request.headers["Authorization"]
