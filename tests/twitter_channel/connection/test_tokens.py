"""Tokens of connected accounts: refreshed once under concurrency, rotated atomically, encrypted at rest."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from datetime import timedelta
from io import StringIO
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from tests.factories import make_agent, make_x_account
from tests.twitter_channel.connection.refresh_worker import call_x_as_account
from tests.xsandbox import Sandbox
from twitter_channel.connection import crypto
from twitter_channel.connection import services as x_connection
from twitter_channel.connection.tokens import (
    AccountNeedsReconnection,
    access_token_current,
    client_for,
    tokens_reencrypt,
)
from twitter_channel.models import XAccount
from twitter_channel.x import oauth
from twitter_channel.x.client import StaticUserAuth, XClient
from twitter_channel.x.errors import Transient

WORKERS = 8


def connect_through_sandbox(sandbox: Sandbox) -> XAccount:
    """An account connected with tokens the sandbox issued (the browser part is tested elsewhere)."""
    issued = sandbox.control("POST", "tokens", {"user": "AcmeSupport"})
    tokens = oauth.TokenSet(
        access_token=issued["access_token"],
        refresh_token=issued["refresh_token"],
        expires_at=timezone.now() + timedelta(seconds=issued["expires_in"]),
        scopes=tuple(issued["scope"].split()),
    )
    profile = XClient(user_auth=StaticUserAuth(tokens.access_token)).me().user
    return x_connection.account_connect(tokens=tokens, profile=profile, by=None)


def expire_at_x(sandbox: Sandbox) -> None:
    sandbox.control("POST", "clock", {"seconds": 2 * 60 * 60 + 1})


def refreshes_at_x(sandbox: Sandbox) -> int:
    return sandbox.control("GET", "counters")["tokens_refreshed"]


def _worker_env(sandbox_settings) -> dict[str, str]:
    url = urlsplit(os.environ["DATABASE_URL"])
    test_db = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    return {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": test_db,
        "X_API_BASE_URL": sandbox_settings.X_API_BASE_URL,
        "X_AUTHORIZE_URL": sandbox_settings.X_AUTHORIZE_URL,
        "X_CLIENT_ID": sandbox_settings.X_CLIENT_ID,
        "X_CLIENT_SECRET": sandbox_settings.X_CLIENT_SECRET,
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["expired here", "rejected by X"])
def test_eight_workers_needing_a_fresh_token_at_once_refresh_it_once(x_sandbox, settings, how):
    """Eight processes (not threads: only the database row lock is shared) call X at the same moment."""
    if connection.vendor != "postgresql":
        pytest.fail("This test needs PostgreSQL row locks shared between processes; run it through `make test`.")
    account = connect_through_sandbox(x_sandbox)
    old_token = account.access_token
    expire_at_x(x_sandbox)
    if how == "expired here":
        XAccount.objects.filter(pk=account.pk).update(access_expires_at=timezone.now() - timedelta(seconds=1))
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WORKERS), context.Queue()
    env = _worker_env(settings)
    workers = [
        context.Process(target=call_x_as_account, args=(env, account.pk, barrier, results)) for _ in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)

    assert [o[0] for o in outcomes] == ["ok"] * WORKERS, outcomes
    assert {o[1] for o in outcomes} == {"AcmeSupport"}
    tokens_used = {o[2] for o in outcomes}
    account.refresh_from_db()
    assert tokens_used == {account.access_token} and old_token not in tokens_used
    assert account.refresh_count == 1
    assert refreshes_at_x(x_sandbox) == 1
    assert account.status == XAccount.Status.CONNECTED


@pytest.mark.django_db
def test_a_401_refreshes_and_retries_once_and_stores_the_rotated_refresh_token(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    old_access, old_refresh = account.access_token, account.refresh_token
    expire_at_x(x_sandbox)

    me = client_for(account).me()

    account.refresh_from_db()
    assert me.user.username == "AcmeSupport"
    assert account.access_token != old_access and account.refresh_token not in ("", old_refresh)
    assert account.access_expires_at > timezone.now() + timedelta(minutes=100)
    assert refreshes_at_x(x_sandbox) == 1


@pytest.mark.django_db
def test_a_refused_refresh_token_marks_the_account_and_stops_calling_x(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    oauth.token_revoke(token=account.refresh_token)
    XAccount.objects.filter(pk=account.pk).update(access_expires_at=timezone.now())

    with pytest.raises(AccountNeedsReconnection, match="needs reconnecting"):
        client_for(account).me()

    account.refresh_from_db()
    assert account.status == XAccount.Status.NEEDS_RECONNECTION
    assert "X refused the refresh token" in account.status_detail
    before = x_sandbox.control("GET", "counters")["rate_windows"]
    with pytest.raises(AccountNeedsReconnection):
        client_for(account).me()
    assert x_sandbox.control("GET", "counters")["rate_windows"] == before, "no further call reached X"


@pytest.mark.django_db
def test_admins_see_which_account_needs_reconnecting_on_every_page(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    XAccount.objects.filter(pk=account.pk).update(
        status=XAccount.Status.NEEDS_RECONNECTION, status_detail="X refused the refresh token: revoked."
    )
    admin, agent = Client(), Client()
    admin.force_login(make_agent(role=User.Role.ADMIN))
    agent.force_login(make_agent(role=User.Role.AGENT))

    home = admin.get("/").content.decode()
    settings_page = admin.get("/settings/x-accounts/").content.decode()

    assert "@AcmeSupport needs reconnecting" in home
    assert "Needs reconnection" in settings_page and "X refused the refresh token: revoked." in settings_page
    assert ">Reconnect<" in settings_page
    assert "needs reconnecting" not in agent.get("/").content.decode()


@pytest.mark.django_db
def test_x_unreachable_during_a_refresh_changes_nothing(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    before = (account.access_token, account.refresh_token)
    x_sandbox.control("POST", "faults", {"kind": "503", "count": 1, "path": "/2/oauth2/token"})
    XAccount.objects.filter(pk=account.pk).update(access_expires_at=timezone.now())

    with pytest.raises(Transient):
        access_token_current(account_id=account.pk)

    account.refresh_from_db()
    assert (account.access_token, account.refresh_token) == before
    assert account.status == XAccount.Status.CONNECTED
    assert client_for(account).me().user.username == "AcmeSupport", "the next attempt refreshes"


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_token_in_plain_text(x_sandbox, admin_client):
    from tests.twitter_channel.conftest import callback_path, start_connect

    callback = start_connect(admin_client).answer("authorize")
    assert admin_client.get(callback_path(callback)).status_code == 302
    account = XAccount.objects.get()
    client_for(account).me()
    secrets = [account.access_token, account.refresh_token]
    assert all(len(s) > 20 for s in secrets)

    if connection.vendor == "postgresql":
        params = connection.get_connection_params()
        dump = subprocess.run(
            ["pg_dump", "--data-only", "-h", params.get("host", "127.0.0.1"), "-p", str(params.get("port", 5432)),
             "-U", params["user"], connection.settings_dict["NAME"]],
            env={**os.environ, "PGPASSWORD": params.get("password") or ""},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    else:
        dump = "\n".join(connection.connection.iterdump())
    json_dump = _dumpdata()

    assert "AcmeSupport" in dump, "the dump holds the account's data"
    for secret in secrets:
        assert secret not in dump
        assert secret not in json_dump
    assert crypto.decrypt(account.access_token_ciphertext) == secrets[0]


def _dumpdata() -> str:
    from io import StringIO

    out = StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_rotating_the_encryption_key_keeps_every_token_readable(x_sandbox, settings):
    account = connect_through_sandbox(x_sandbox)
    token = account.access_token
    old_key = settings.TOKEN_ENCRYPTION_KEY
    new_key = "bmV3LWtleS1mb3Itcm90YXRpb24tMzItYnl0ZXMhISE="
    settings.TOKEN_ENCRYPTION_KEY = f"{new_key},{old_key}"

    call_command("reencrypt_tokens", stdout=open(os.devnull, "w"))
    settings.TOKEN_ENCRYPTION_KEY = new_key

    assert XAccount.objects.get(pk=account.pk).access_token == token


@pytest.mark.django_db
def test_reencrypting_leaves_both_tokens_of_every_account_readable_with_the_newest_key_alone(settings):
    # given two accounts whose tokens were stored under the old key, one without a refresh token
    old_key, new_key = settings.TOKEN_ENCRYPTION_KEY, "bmV3LWtleS1mb3Itcm90YXRpb24tMzItYnl0ZXMhISE="
    first, second = make_x_account(), make_x_account()
    XAccount.objects.filter(pk=second.pk).update(refresh_token_ciphertext="")

    # when the new key is put first and the tokens re-encrypted, from the command as an operator does
    settings.TOKEN_ENCRYPTION_KEY = f"{new_key},{old_key}"
    out = StringIO()
    call_command("reencrypt_tokens", stdout=out)
    settings.TOKEN_ENCRYPTION_KEY = new_key  # the old key removed

    # then every token reads back under the new key alone, and the empty one stayed empty
    first, second = XAccount.objects.get(pk=first.pk), XAccount.objects.get(pk=second.pk)
    assert (first.access_token, first.refresh_token) == ("access", "refresh")
    assert (second.access_token, second.refresh_token) == ("access", "")
    assert out.getvalue() == "Re-encrypted the tokens of 2 X account(s) with the newest key.\n"
    assert tokens_reencrypt() == 2


@pytest.mark.django_db
def test_a_token_encrypted_with_a_dropped_key_is_a_clear_error(x_sandbox, settings):
    account = connect_through_sandbox(x_sandbox)
    settings.TOKEN_ENCRYPTION_KEY = "bmV3LWtleS1mb3Itcm90YXRpb24tMzItYnl0ZXMhISE="

    with pytest.raises(crypto.TokenDecryptionError, match="was the key that encrypted it removed"):
        _ = XAccount.objects.get(pk=account.pk).access_token
