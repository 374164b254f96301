"""XClient against the real X sandbox over HTTP: registering a webhook (CRC answered by a local server),
subscribing the account, counting and removing subscriptions, and app-only authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.twitter_channel.x.client_sandbox import acme, insecure_transport, x_client
from tests.xsandbox import BUSINESS_ID, Sandbox
from twitter_channel.x.client import XClient
from twitter_channel.x.errors import PermanentError

__all__ = ["acme", "insecure_transport"]  # the fixtures, from client_sandbox


# --- webhooks and subscriptions ------------------------------------------------------------------------------


@pytest.fixture
def webhook_url(sandbox: Sandbox) -> Iterator[str]:
    """A local webhook that answers CRC with the app's consumer secret and accepts event POSTs."""
    secret = sandbox.control("GET", "app")["consumer_secret"].encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            token = parse_qs(urlsplit(self.path).query).get("crc_token", [""])[0]
            digest = base64.b64encode(hmac.new(secret, token.encode(), hashlib.sha256).digest()).decode()
            self._answer(json.dumps({"response_token": f"sha256={digest}"}).encode())

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer(b"{}")

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/x"
    server.shutdown()
    server.server_close()


def test_webhook_and_subscription_lifecycle(acme: XClient, webhook_url: str):
    created = acme.webhook_create(webhook_url).webhook
    listed = acme.webhooks().webhooks
    validated = acme.webhook_validate(created.id)
    subscribed = acme.subscription_create(created.id)
    checked = acme.subscription_check(created.id)
    subscriptions = acme.subscriptions(created.id)
    count = acme.subscription_count()
    with pytest.raises(PermanentError, match="DuplicateSubscriptionFailed"):
        acme.subscription_create(created.id)
    unsubscribed = acme.subscription_delete(created.id, BUSINESS_ID)
    after = acme.subscription_check(created.id)
    deleted = acme.webhook_delete(created.id)

    assert (created.url, created.valid) == (webhook_url, True)
    assert created.created_at is not None and abs((created.created_at - datetime.now(UTC)).total_seconds()) < 60
    assert listed == (created,)
    assert validated.data == {"valid": True} and validated.rate_limit.limit == 450
    assert (subscribed.subscribed, checked.subscribed) == (True, True)
    assert (subscriptions.webhook_id, subscriptions.webhook_url, subscriptions.user_ids) == (
        created.id,
        webhook_url,
        (BUSINESS_ID,),
    )
    assert subscriptions.application_id == "13090192"
    assert (count.subscriptions_count_all, count.provisioned_count, count.subscriptions_count_direct_messages) == (
        1,
        50,
        0,
    )
    assert count.account_name == "Backchannel (sandbox)"
    assert (unsubscribed.subscribed, after.subscribed, deleted.deleted) == (False, False, True)
    assert acme.webhooks().webhooks == ()


def test_a_webhook_that_fails_crc_is_refused(acme: XClient):
    with pytest.raises(PermanentError, match=r"POST /2/webhooks: 400 Invalid Request — .*CrcValidationFailed"):
        acme.webhook_create("http://127.0.0.1:9/nothing-listens-here")


def test_an_app_call_with_a_user_token_is_refused(sandbox: Sandbox):
    confused = x_client(sandbox, app_bearer=sandbox.token())

    with pytest.raises(PermanentError, match="403 Unsupported Authentication"):
        confused.webhooks()
