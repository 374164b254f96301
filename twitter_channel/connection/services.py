"""Connecting X accounts to Backchannel (OAuth 2.0 PKCE) and disconnecting them.

The flow spans two requests. ``connect_start`` makes a PKCE verifier and a ``state`` and keeps both in the
admin's server-side session; X's consent page sends the admin back with ``state`` and a one-time ``code``;
``connect_finish`` checks ``state`` against the session (so a callback that did not start here is refused),
trades the code and verifier for tokens, asks X who the account is (``users/me``) and stores it.

Access can also end at X's side: a user who revokes Backchannel's access there makes X send a ``user_event``
``revoke``, and ``account_access_revoked`` marks the account as needing reconnection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from inbox.services.inboxes import inbox_member_add, inbox_upsert
from twitter_channel.connection.tokens import account_needs_reconnection
from twitter_channel.models import XAccount
from twitter_channel.task_names import DM_BACKFILL, task
from twitter_channel.x import oauth
from twitter_channel.x.client import StaticUserAuth, XClient
from twitter_channel.x.errors import XError
from twitter_channel.x.results import XUser

SESSION_KEY = "x_connect"
PENDING_SECONDS = 15 * 60
PENDING_MAX = 5
REQUIRED_SCOPES = frozenset({"dm.read", "dm.write", "tweet.read", "users.read", "offline.access"})


class ConnectFailed(Exception):
    """The connection did not happen; the message says why, for the admin who tried. Nothing was stored."""


@dataclass(frozen=True)
class Disconnected:
    account: XAccount
    revoked_at_x: bool
    problem: str = ""


def connect_start(*, session: Any, redirect_uri: str) -> str:
    """Begin connecting an X account: remember a PKCE verifier under a fresh ``state``; return X's consent URL."""
    request = oauth.authorization_request(redirect_uri=redirect_uri, scopes=settings.X_OAUTH_SCOPES)
    now = time.time()
    pending = {
        state: started
        for state, started in session.get(SESSION_KEY, {}).items()
        if now - started["at"] < PENDING_SECONDS
    }
    pending[request.state] = {"verifier": request.code_verifier, "redirect_uri": redirect_uri, "at": now}
    session[SESSION_KEY] = dict(sorted(pending.items(), key=lambda item: item[1]["at"])[-PENDING_MAX:])
    return request.url


def _pending_pop(session: Any, state: str) -> dict[str, Any] | None:
    pending = dict(session.get(SESSION_KEY, {}))
    started = pending.pop(state, None) if state else None
    session[SESSION_KEY] = pending
    if started is None or time.time() - started["at"] >= PENDING_SECONDS:
        return None
    return started


def connect_finish(*, session: Any, params: dict[str, str], by: User) -> XAccount:
    """Finish the flow with the callback's query ``params``: check, exchange, identify, store.

    Raises ``ConnectFailed`` with a message for the admin when the state does not match, the admin
    cancelled on X, X refused the code or verifier, or X granted too few scopes; nothing is stored then.
    """
    started = _pending_pop(session, params.get("state", ""))
    if started is None:
        raise ConnectFailed(
            "This answer from X does not belong to a connection started here (the state does not match, or it "
            "is older than 15 minutes). Nothing was connected; start again with “Connect X account”."
        )
    if params.get("error"):
        if params["error"] == "access_denied":
            raise ConnectFailed("You cancelled on X, so no account was connected.")
        raise ConnectFailed(f"X did not authorize Backchannel ({params['error']}). Nothing was connected.")
    if not params.get("code"):
        raise ConnectFailed("X sent neither an authorization code nor an error. Nothing was connected.")
    try:
        tokens = oauth.code_exchange(
            code=params["code"], redirect_uri=started["redirect_uri"], code_verifier=started["verifier"]
        )
    except XError as exc:
        reason = exc.detail or str(exc)
        raise ConnectFailed(f"X refused to complete the connection: {reason}. Nothing was connected.") from exc
    missing = REQUIRED_SCOPES - set(tokens.scopes)
    if missing:
        oauth.token_revoke_quietly(tokens)
        raise ConnectFailed(
            f"X granted only {', '.join(sorted(tokens.scopes)) or 'no scopes'}; Backchannel needs "
            f"{', '.join(sorted(missing))} as well. Nothing was connected."
        )
    try:
        profile = XClient(user_auth=StaticUserAuth(tokens.access_token)).me().user
    except XError as exc:
        oauth.token_revoke_quietly(tokens)
        raise ConnectFailed(f"X did not say which account this is: {exc}. Nothing was connected.") from exc
    return account_connect(tokens=tokens, profile=profile, by=by)


def account_connect(*, tokens: oauth.TokenSet, profile: XUser, by: User | None) -> XAccount:
    """Store the tokens of X account ``profile``, create or update its inbox, enqueue the 30-day backfill.

    Reconnecting an account that exists (also one that needed reconnection or was disconnected) replaces
    its tokens and keeps its inbox and conversations. The admin who connects becomes a member of the inbox.
    Locks the account's row.
    """
    now = timezone.now()
    with transaction.atomic():
        inbox = inbox_upsert(
            x_user_id=profile.id,
            handle=profile.username,
            display_name=profile.name,
            avatar_url=profile.profile_image_url or "",
        )
        if by is not None:
            inbox_member_add(inbox=inbox, user=by)
        account = XAccount.objects.select_for_update().filter(inbox=inbox).first() or XAccount(inbox=inbox)
        account.access_token = tokens.access_token
        account.refresh_token = tokens.refresh_token
        account.access_expires_at = tokens.expires_at
        account.scopes = " ".join(tokens.scopes)
        account.status = XAccount.Status.CONNECTED
        account.status_detail = ""
        account.status_changed_at = now
        account.connected_by = by
        account.connected_at = now
        account.save()
        transaction.on_commit(lambda: task(DM_BACKFILL).delay(account.pk), robust=True)
    return account


def account_disconnect(*, account: XAccount) -> Disconnected:
    """Revoke the account's tokens at X and forget them. The inbox and its history stay.

    If X cannot be reached the tokens are forgotten anyway and the result says so, so the admin can
    revoke access at X by hand. Locks the account's row.
    """
    with transaction.atomic():
        account = XAccount.objects.select_for_update().select_related("inbox").get(pk=account.pk)
        problem = ""
        for token in (account.refresh_token, account.access_token):
            if not token:
                continue
            try:
                oauth.token_revoke(token=token)
            except XError as exc:
                problem = str(exc)
        account.access_token = ""
        account.refresh_token = ""
        account.access_expires_at = None
        account.status = XAccount.Status.DISCONNECTED
        account.status_detail = ""
        account.status_changed_at = timezone.now()
        account.save()
    return Disconnected(account=account, revoked_at_x=not problem, problem=problem)


def account_access_revoked(*, x_user_id: str, revoked_at: datetime) -> XAccount | None:
    """X user ``x_user_id`` revoked Backchannel's access on X at ``revoked_at`` (a ``user_event`` ``revoke``).

    Marks the account of the inbox with that user id as needing reconnection, with a reason for the admin,
    if it is connected and was connected before ``revoked_at``; returns it then, else None (no such
    account, not connected, or a revoke older than the current connection, e.g. replayed after the admin
    reconnected). Calls nothing at X: the tokens are dead already. Locks the account's row.
    """
    with transaction.atomic():
        account = (
            XAccount.objects.select_for_update(of=("self",))
            .select_related("inbox")
            .filter(inbox__x_user_id=x_user_id)
            .first()
        )
        # X's date_time has whole seconds: a revoke in the same second as the connection counts as older.
        # Erring that way heals itself: if the tokens really are dead, X refuses the next refresh and
        # access_token_refresh marks the account then.
        if account is None or not account.is_connected or revoked_at <= account.connected_at:
            return None
        when = revoked_at.astimezone(UTC)
        account_needs_reconnection(
            account=account,
            reason=(
                f"{account.inbox} revoked Backchannel's access on X on {when.day} {when:%B %Y at %H:%M} UTC. "
                "Connect it again to receive and send its DMs."
            ),
        )
    return account
