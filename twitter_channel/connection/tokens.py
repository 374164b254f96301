"""Access tokens of connected X accounts: handed out fresh, refreshed once however many workers ask.

X's refresh tokens are single-use: a refresh returns a new access token *and* a new refresh token, and the
old refresh token stops working. Two workers refreshing at once would spend the same refresh token twice,
and the loser would see "invalid token" and disconnect the account. So a refresh happens under a row lock
on the ``XAccount`` (``SELECT ... FOR UPDATE``, which PostgreSQL shares across every process and host),
and whoever gets the lock second finds the fresh token already stored and uses it. The new access token
and the rotated refresh token are saved in the same transaction. A per-process lock sits in front of the
row lock so that SQLite, whose ``select_for_update`` is a no-op, is safe with tasks run inline in one
process (the unit tests).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from twitter_channel.connection import crypto
from twitter_channel.models import XAccount
from twitter_channel.x import oauth
from twitter_channel.x.client import XClient
from twitter_channel.x.errors import AuthError

_process_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)


class AccountNeedsReconnection(AuthError):
    """The account cannot call X until an admin connects it again (refresh token revoked or invalid)."""


def _require_connected(account: XAccount) -> None:
    if account.status != XAccount.Status.CONNECTED:
        detail = account.status_detail or "An admin must connect it again under Settings → X accounts."
        raise AccountNeedsReconnection(f"@{account.inbox.handle} is {account.get_status_display().lower()}: {detail}")


def _expiring(account: XAccount) -> bool:
    if account.access_expires_at is None:
        return False
    margin = timedelta(seconds=settings.X_TOKEN_REFRESH_MARGIN)
    return account.access_expires_at - margin <= timezone.now()


def access_token_current(*, account_id: int) -> str:
    """The account's access token, refreshed first when it expires within ``X_TOKEN_REFRESH_MARGIN``."""
    account = XAccount.objects.select_related("inbox").get(pk=account_id)
    _require_connected(account)
    if not _expiring(account):
        return account.access_token
    return access_token_refresh(account_id=account_id)


def access_token_refresh(*, account_id: int, rejected: str | None = None) -> str:
    """Refresh the account's tokens unless another worker already did; return the access token to use.

    ``rejected`` is a token X just answered 401 to: the refresh happens if it is still the stored one.
    Without it the refresh happens if the stored token is (about to be) expired. Locks the ``XAccount`` row.
    A refresh token X refuses marks the account "needs reconnection" and raises ``AccountNeedsReconnection``;
    X being unreachable raises ``Transient`` and changes nothing.
    """
    refused: oauth.RefreshRefused | None = None
    with _process_locks[account_id], transaction.atomic():
        account = XAccount.objects.select_for_update().select_related("inbox").get(pk=account_id)
        _require_connected(account)
        if rejected is not None and account.access_token != rejected:
            return account.access_token
        if rejected is None and not _expiring(account):
            return account.access_token
        try:
            tokens = oauth.token_refresh(refresh_token=account.refresh_token)
        except oauth.RefreshRefused as exc:
            refused = exc
            account_needs_reconnection(account=account, reason=f"X refused the refresh token: {exc.description}")
        else:
            _store_refreshed(account, tokens)
            return account.access_token
    raise AccountNeedsReconnection(f"@{account.inbox.handle} needs reconnecting: {refused.description}") from refused


def _store_refreshed(account: XAccount, tokens: oauth.TokenSet) -> None:
    account.access_token = tokens.access_token
    # X rotates refresh tokens; if an answer ever lacks one, the old one is kept rather than lost.
    account.refresh_token = tokens.refresh_token or account.refresh_token
    account.access_expires_at = tokens.expires_at
    account.scopes = " ".join(tokens.scopes) or account.scopes
    account.refreshed_at = timezone.now()
    account.refresh_count += 1
    account.save(
        update_fields=[
            "access_token_ciphertext",
            "refresh_token_ciphertext",
            "access_expires_at",
            "scopes",
            "refreshed_at",
            "refresh_count",
        ]
    )


def tokens_reencrypt() -> int:
    """Store every account's tokens encrypted with the newest ``TOKEN_ENCRYPTION_KEY`` (the first), so older
    keys can be removed; return how many accounts. Locks every ``XAccount`` row, in id order, for one
    transaction, so no refresh stores a token meanwhile. Publishes nothing."""
    count = 0
    with transaction.atomic():
        for account in XAccount.objects.select_for_update().order_by("pk"):
            for field in ("access_token_ciphertext", "refresh_token_ciphertext"):
                if getattr(account, field):
                    setattr(account, field, crypto.reencrypt(getattr(account, field)))
            account.save(update_fields=["access_token_ciphertext", "refresh_token_ciphertext"])
            count += 1
    return count


def account_needs_reconnection(*, account: XAccount, reason: str) -> None:
    """Mark ``account`` as needing an admin to connect it again; callers hold its row lock."""
    account.status = XAccount.Status.NEEDS_RECONNECTION
    account.status_detail = reason
    account.status_changed_at = timezone.now()
    account.save(update_fields=["status", "status_detail", "status_changed_at"])


class AccountAuth:
    """``client.UserAuth`` for a connected account: fresh tokens, and one renewal after a 401."""

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id

    def access_token(self) -> str:
        return access_token_current(account_id=self.account_id)

    def renew(self, rejected: str) -> str | None:
        token = access_token_refresh(account_id=self.account_id, rejected=rejected)
        return token if token != rejected else None


def client_for(account: XAccount | int) -> XClient:
    """An ``XClient`` acting as the account (user context), with the app's bearer for app-only calls."""
    account_id = account if isinstance(account, int) else account.pk
    return XClient(user_auth=AccountAuth(account_id), app_bearer=settings.X_BEARER_TOKEN or None)
