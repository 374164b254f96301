"""The Django admin for X accounts: only the account's own DM limits change there, through the rate limiter's
service; the rest is Settings → X accounts'."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_superuser, make_x_account
from twitter_channel.models import XAccount
from twitter_channel.outbound import ratelimit

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_admin(client):
    admin = make_superuser()
    client.force_login(admin)
    return admin


def test_an_accounts_dm_limits_set_in_the_admin_are_the_ones_sends_count_against(client, site_admin):
    account = make_x_account()
    url = reverse("admin:twitter_channel_xaccount_change", args=[account.pk])

    page = client.get(url).content.decode()
    saved = client.post(url, {"dm_limits": " 900:15,86400:1440 ", "status": "needs_reconnection"})
    refused = client.post(url, {"dm_limits": "900:fifteen"})

    assert 'name="dm_limits"' in page and 'name="status"' not in page and "ciphertext" not in page
    assert saved.status_code == 302
    assert refused.status_code == 200 and "Write &lt;seconds&gt;:&lt;limit&gt; pairs" in refused.content.decode()
    account = XAccount.objects.get(pk=account.pk)
    assert account.dm_limits == "900:15,86400:1440" and account.status == "connected"
    assert (account.access_token, account.refresh_token) == ("access", "refresh")
    windows = [(w.seconds, w.limit) for w in ratelimit.budget(account=account).windows if w.scope == "account"]
    assert windows == [(900, 15), (86400, 1440)]


def test_x_accounts_are_not_added_or_deleted_in_the_admin(client, site_admin):
    account = make_x_account()

    assert client.get(reverse("admin:twitter_channel_xaccount_add")).status_code == 403
    deleted = client.post(reverse("admin:twitter_channel_xaccount_delete", args=[account.pk]), {"post": "yes"})
    assert deleted.status_code == 403 and XAccount.objects.filter(pk=account.pk).exists()
