"""Our webhook at X: register it, have X run the CRC again, subscribe accounts, and tell when one goes quiet.

What the channel health page (Settings → X accounts) does for admins. Registering adopts a webhook X
already has for our URL and otherwise creates one; it never deletes a webhook, ours or another app's
(a tier that allows one webhook then answers with X's error, which is shown as is). Every outcome is
stored, so the page shows what X last said without calling X.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from twitter_channel.connection.tokens import AccountNeedsReconnection, client_for
from twitter_channel.models import WebhookEndpoint, XAccount
from twitter_channel.x.client import XClient
from twitter_channel.x.errors import XError


class RegistrationFailed(Exception):
    """X refused or could not be reached; the message says what X answered (also stored on the endpoint)."""


def _app_client() -> XClient:
    if not settings.X_BEARER_TOKEN:
        raise RegistrationFailed("X_BEARER_TOKEN is not set, so Backchannel cannot manage the X app's webhooks.")
    return XClient(app_bearer=settings.X_BEARER_TOKEN)


def endpoint_register(*, url: str) -> WebhookEndpoint:
    """Make sure X has a webhook for ``url`` and remember it; return the endpoint.

    If X lists one for this URL already, it is adopted (and X is asked to run the CRC again when X marks
    it invalid); otherwise it is created, which makes X run the CRC against ``url`` at once. Raises
    ``RegistrationFailed`` with X's answer, which is also kept on the endpoint.
    """
    endpoint, _ = WebhookEndpoint.objects.get_or_create(url=url)
    try:
        client = _app_client()
        existing = next((w for w in client.webhooks().webhooks if w.url == url), None)
        webhook = existing if existing is not None else client.webhook_create(url).webhook
        if not webhook.valid:
            client.webhook_validate(webhook.id)
            webhook = next((w for w in client.webhooks().webhooks if w.id == webhook.id), webhook)
    except (XError, RegistrationFailed) as exc:
        raise _failed(endpoint, f"X did not register {url}: {exc}") from exc
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        webhook_id=webhook.id, valid=webhook.valid, registered_at=webhook.created_at or now, validated_at=now,
        error="", error_at=None,
    )  # fmt: skip
    endpoint.refresh_from_db()
    return endpoint


def endpoint_revalidate(*, url: str) -> WebhookEndpoint:
    """Ask X to run the CRC against ``url`` again (``PUT /2/webhooks/:id``), which re-enables it if it passes."""
    endpoint = WebhookEndpoint.objects.filter(url=url).first()
    if endpoint is None or not endpoint.webhook_id:
        raise RegistrationFailed(f"{url} is not registered with X yet: register it first.")
    try:
        client = _app_client()
        client.webhook_validate(endpoint.webhook_id)
        webhook = next((w for w in client.webhooks().webhooks if w.id == endpoint.webhook_id), None)
    except (XError, RegistrationFailed) as exc:
        raise _failed(endpoint, f"X did not run the CRC: {exc}") from exc
    if webhook is None:
        raise _failed(endpoint, f"X no longer lists webhook {endpoint.webhook_id} for this app: register it again.")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        valid=webhook.valid, validated_at=timezone.now(), error="", error_at=None
    )
    endpoint.refresh_from_db()
    return endpoint


def _failed(endpoint: WebhookEndpoint, reason: str) -> RegistrationFailed:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(error=reason, error_at=timezone.now())
    return RegistrationFailed(reason)


def crc_answered() -> None:
    """Note that this server answered one of X's CRCs (the endpoint cannot tell which URL X used)."""
    WebhookEndpoint.objects.update(last_crc_at=timezone.now())


def account_subscribe(*, account: XAccount, url: str) -> XAccount:
    """Subscribe ``account`` to our webhook with its own token (unless X says it is already); store X's answer
    on it and return it.

    Raises ``RegistrationFailed`` (the reason also stored as ``subscription_error``) when the webhook is
    not registered, the account is not connected, or X refuses.
    """
    endpoint = WebhookEndpoint.objects.filter(url=url).exclude(webhook_id="").first()
    try:
        if endpoint is None:
            raise RegistrationFailed(f"{url} is not registered with X yet: register the webhook first.")
        if not account.is_connected:
            raise RegistrationFailed(f"{account.inbox} is not connected: connect it again first.")
        client = client_for(account)
        # X refuses a second subscription of the same user (DuplicateSubscriptionFailed): ask first.
        subscribed = client.subscription_check(endpoint.webhook_id).subscribed
        if not subscribed:
            subscribed = client.subscription_create(endpoint.webhook_id).subscribed
        if not subscribed:
            raise RegistrationFailed("X answered that the account is not subscribed.")
    except (XError, RegistrationFailed, AccountNeedsReconnection) as exc:
        reason = str(exc) if isinstance(exc, RegistrationFailed) else f"X did not subscribe {account.inbox}: {exc}"
        XAccount.objects.filter(pk=account.pk).update(subscription_error=reason)
        raise RegistrationFailed(reason) from exc
    XAccount.objects.filter(pk=account.pk).update(subscribed_at=timezone.now(), subscription_error="")
    account.refresh_from_db()
    return account


@dataclass(frozen=True)
class Silence:
    since: datetime
    quiet_for: timedelta


def account_silence(account: XAccount, *, now: datetime | None = None) -> Silence | None:
    """The silence alarm: a connected account with no webhook delivery for ``X_WEBHOOK_SILENCE_ALARM`` seconds.

    Counted from the last delivery, or from when the account was connected or subscribed if nothing has
    come since. None when the account is not connected or not quiet for that long.
    """
    if not account.is_connected or settings.X_WEBHOOK_SILENCE_ALARM <= 0:
        return None
    now = now or timezone.now()
    since = max(t for t in (account.last_webhook_at, account.subscribed_at, account.connected_at) if t is not None)
    quiet_for = now - since
    if quiet_for < timedelta(seconds=settings.X_WEBHOOK_SILENCE_ALARM):
        return None
    return Silence(since=since, quiet_for=quiet_for)
