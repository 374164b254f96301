"""The quick start's demo account, connected to the local X sandbox without a click.

``make run`` starts the sandbox beside the app, and ``manage.py quickstart_ready`` calls
``demo_account_connect`` once both answer. The one step that is not X's is the first: the tokens come from
the sandbox's control API (on X an admin approves on the consent page, as under Settings → X accounts).
From there everything goes the way a real connection does: ``connection.account_connect`` stores the
tokens encrypted, creates or updates the inbox and enqueues the 30-day backfill; the webhook is registered
at X (the sandbox runs the CRC against this server) and the account subscribed with its own token.

Safe at every start: an account whose token X still accepts is kept (a sandbox started afresh does not
know it any more, and it is connected again), registering adopts the webhook X already has for the URL,
and an account X lists as subscribed already is left so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from twitter_channel.connection.services import account_connect
from twitter_channel.connection.tokens import AccountNeedsReconnection, client_for
from twitter_channel.connection.webhook_registration import account_subscribe, endpoint_register
from twitter_channel.models import WebhookEndpoint, XAccount
from twitter_channel.x import oauth
from twitter_channel.x.client import StaticUserAuth, XClient
from twitter_channel.x.errors import AuthError

DEMO_HANDLE = "AcmeSupport"
CONTROL_TIMEOUT = 10


class DemoConnectFailed(Exception):
    """The sandbox or this server did not do its part; the message says which and what it answered."""


@dataclass(frozen=True)
class DemoConnection:
    account: XAccount
    endpoint: WebhookEndpoint
    connected_now: bool  # False: the account was connected already and X still accepts its token


def demo_account_connect(
    *, sandbox_url: str, webhook_url: str, by: User | None, handle: str = DEMO_HANDLE
) -> DemoConnection:
    """Connect ``handle`` of the sandbox at ``sandbox_url``, register ``webhook_url`` and subscribe the account.

    Changes what a connection changes (``connection.account_connect``: the account, its inbox, ``by`` a
    member) when the account is not connected or X refuses its token; the webhook endpoint and the
    subscription (``webhook_registration``). Raises ``DemoConnectFailed`` with the reason.
    """
    account = _working_account(handle)
    connected_now = account is None
    try:
        if account is None:
            tokens = _sandbox_tokens(sandbox_url, handle)
            profile = XClient(user_auth=StaticUserAuth(tokens.access_token)).me().user
            account = account_connect(tokens=tokens, profile=profile, by=by)
        endpoint = endpoint_register(url=webhook_url)
        account = account_subscribe(account=account, url=webhook_url)
    except Exception as exc:
        raise DemoConnectFailed(f"Could not connect @{handle} to the X sandbox at {sandbox_url}: {exc}") from exc
    return DemoConnection(account=account, endpoint=endpoint, connected_now=connected_now)


def _working_account(handle: str) -> XAccount | None:
    """The connected account of ``handle`` if X (the sandbox) still accepts its token, else None."""
    account = XAccount.objects.select_related("inbox").filter(inbox__handle__iexact=handle).first()
    if account is None or not account.is_connected:
        return None
    client = client_for(account)
    try:
        client.me()
    except (AuthError, AccountNeedsReconnection):
        return None
    finally:
        client.close()
    return account


def _sandbox_tokens(sandbox_url: str, handle: str) -> oauth.TokenSet:
    """A user token for ``handle`` from the sandbox's control API (not X's: X has no such call)."""
    response = requests.post(
        f"{sandbox_url.rstrip('/')}/sandbox/api/tokens",
        json={"user": handle, "client_id": settings.X_CLIENT_ID},
        timeout=CONTROL_TIMEOUT,
    )
    if not response.ok:
        raise DemoConnectFailed(f"the sandbox gave no token ({response.status_code}: {response.text[:300]})")
    body = response.json()
    return oauth.TokenSet(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=timezone.now() + timedelta(seconds=int(body["expires_in"])),
        scopes=tuple(str(body["scope"]).split()),
    )
