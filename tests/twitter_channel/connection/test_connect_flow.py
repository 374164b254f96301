"""Connecting an X account: Backchannel in-process, the sandbox's X over real HTTP."""

from __future__ import annotations

import pytest
import requests
from django.test import Client

from accounts.models import User
from inbox.models import Inbox
from tests.factories import make_agent
from tests.twitter_channel.conftest import callback_path, start_connect
from tests.xsandbox import BUSINESS_ID, Sandbox
from twitter_channel.connection import services as connection
from twitter_channel.connection.tokens import client_for
from twitter_channel.models import XAccount

pytestmark = pytest.mark.django_db


def test_admin_connects_an_account_end_to_end(
    x_sandbox: Sandbox, admin_client: Client, django_capture_on_commit_callbacks
):
    consent = start_connect(admin_client)

    assert consent.url.startswith(f"{x_sandbox.base_url}/i/oauth2/authorize?")
    query = consent.query
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43 and len(query["state"]) >= 20
    assert {"dm.read", "dm.write", "offline.access"} <= set(query["scope"].split())
    assert query["redirect_uri"] == "http://testserver/settings/x-accounts/callback/"

    callback = consent.answer("authorize", BUSINESS_ID)
    with django_capture_on_commit_callbacks() as enqueued:
        response = admin_client.get(callback_path(callback))

    assert response.status_code == 302 and response["Location"] == "/settings/x-accounts/"
    account = XAccount.objects.select_related("inbox").get()
    assert account.status == XAccount.Status.CONNECTED
    assert (account.inbox.x_user_id, account.inbox.handle, account.inbox.display_name) == (
        BUSINESS_ID,
        "AcmeSupport",
        "Acme Support",
    )
    assert account.inbox.members.filter(email="admin@example.test").exists()
    assert set(account.scopes.split()) >= {"dm.read", "dm.write", "offline.access"}
    assert account.refresh_token and account.access_expires_at is not None
    assert client_for(account).me().user.username == "AcmeSupport"
    assert len(enqueued) == 1, "the 30-day backfill is enqueued after commit"

    page = admin_client.get("/settings/x-accounts/")
    assert b"Connected @AcmeSupport" in page.content and b"@AcmeSupport" in page.content


def _nothing_stored() -> bool:
    return not XAccount.objects.exists() and not Inbox.objects.exists()


def test_a_callback_whose_state_does_not_match_is_refused_and_stores_nothing(x_sandbox, admin_client):
    consent = start_connect(admin_client)
    callback = consent.answer("authorize", BUSINESS_ID)
    forged = callback.replace(f"state={consent.query['state']}", "state=forged-state-value")

    response = admin_client.get(callback_path(forged))

    assert response.status_code == 400
    assert "does not belong to a connection started here" in response.content.decode()
    assert _nothing_stored()


def test_a_state_is_good_for_one_callback_only(x_sandbox, admin_client):
    callback = start_connect(admin_client).answer("authorize", BUSINESS_ID)
    assert admin_client.get(callback_path(callback)).status_code == 302

    replay = admin_client.get(callback_path(callback))

    assert replay.status_code == 400 and b"state does not match" in replay.content
    assert XAccount.objects.count() == 1


def test_a_state_from_another_admins_session_is_refused(x_sandbox, admin_client):
    callback = start_connect(admin_client).answer("authorize", BUSINESS_ID)
    other = Client()
    other.force_login(make_agent(role=User.Role.ADMIN))

    response = other.get(callback_path(callback))

    assert response.status_code == 400
    assert _nothing_stored()


def test_a_wrong_verifier_is_refused_by_x_and_stores_nothing(x_sandbox, admin_client):
    consent = start_connect(admin_client)
    session = admin_client.session
    pending = session[connection.SESSION_KEY]
    pending[consent.query["state"]]["verifier"] = "w" * 64
    session[connection.SESSION_KEY] = pending
    session.save()
    callback = consent.answer("authorize", BUSINESS_ID)

    response = admin_client.get(callback_path(callback))

    assert response.status_code == 400
    html = response.content.decode()
    assert "X refused to complete the connection" in html
    assert "code_verifier does not match" in html or "authorization code was invalid" in html
    assert _nothing_stored()


def test_denying_consent_on_x_shows_why_and_stores_nothing(x_sandbox, admin_client):
    callback = start_connect(admin_client).answer("cancel", BUSINESS_ID)

    response = admin_client.get(callback_path(callback))

    assert response.status_code == 400
    assert "You cancelled on X, so no account was connected." in response.content.decode()
    assert _nothing_stored()


def test_several_accounts_can_be_connected_and_reconnecting_keeps_one_inbox(x_sandbox, admin_client):
    second = x_sandbox.control(
        "POST", "users", {"username": "AcmeBilling", "name": "Acme Billing", "is_business": True}
    )
    for user in (BUSINESS_ID, second["id"], BUSINESS_ID):
        callback = start_connect(admin_client).answer("authorize", user)
        assert admin_client.get(callback_path(callback)).status_code == 302

    assert sorted(Inbox.objects.values_list("handle", flat=True)) == ["AcmeBilling", "AcmeSupport"]
    assert XAccount.objects.count() == 2


def test_disconnect_revokes_the_token_at_x_and_keeps_the_inbox(x_sandbox, admin_client):
    callback = start_connect(admin_client).answer("authorize", BUSINESS_ID)
    admin_client.get(callback_path(callback))
    account = XAccount.objects.get()
    old_token = account.access_token

    response = admin_client.post(f"/settings/x-accounts/{account.pk}/disconnect/", follow=True)

    assert b"Disconnected @AcmeSupport" in response.content
    account.refresh_from_db()
    assert account.status == XAccount.Status.DISCONNECTED
    assert account.access_token == "" and account.refresh_token == ""
    assert Inbox.objects.filter(handle="AcmeSupport").exists()
    bearer = {"Authorization": f"Bearer {old_token}"}
    at_x = requests.get(f"{x_sandbox.base_url}/2/users/me", headers=bearer, timeout=10)
    assert at_x.status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/settings/x-accounts/"),
        ("post", "/settings/x-accounts/connect/"),
        ("get", "/settings/x-accounts/callback/?state=s&code=c"),
        ("post", "/settings/x-accounts/1/disconnect/"),
    ],
)
@pytest.mark.parametrize("role", [User.Role.AGENT, User.Role.LEAD, User.Role.SOCIAL])
def test_only_admins_manage_x_accounts(client, method, path, role):
    client.force_login(make_agent(role=role))

    assert getattr(client, method)(path).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/settings/x-accounts/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_too_few_scopes_granted_is_refused_and_the_tokens_are_revoked(x_sandbox, admin_client, settings):
    settings.X_OAUTH_SCOPES = ["dm.read", "tweet.read", "users.read", "offline.access"]
    callback = start_connect(admin_client).answer("authorize", BUSINESS_ID)

    response = admin_client.get(callback_path(callback))

    assert response.status_code == 400
    assert "Backchannel needs dm.write as well. Nothing was connected." in response.content.decode()
    assert _nothing_stored()
    counters = x_sandbox.control("GET", "counters")
    assert (counters["tokens_issued"], counters["tokens_revoked"]) == (1, 1)


def test_connecting_without_an_x_app_configured_says_so(admin_client, settings):
    settings.X_CLIENT_ID = ""

    response = admin_client.post("/settings/x-accounts/connect/")

    assert response.status_code == 503
    assert b"X_CLIENT_ID is not set" in response.content
