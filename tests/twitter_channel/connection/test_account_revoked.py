"""A user revoked Backchannel's access on X: the account needs reconnecting, unless the revoke is older news."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_inbox
from twitter_channel.connection.services import account_access_revoked
from twitter_channel.models import XAccount

pytestmark = pytest.mark.django_db

BRAND_ID = "63046977"
CONNECTED_AT = datetime(2018, 5, 1, 8, 0, tzinfo=UTC)
REVOKED_AT = datetime(2018, 5, 24, 9, 48, 12, tzinfo=UTC)
LONG_AGO = datetime(2018, 1, 1, tzinfo=UTC)


def account_for(x_user_id: str = BRAND_ID, *, status: str = XAccount.Status.CONNECTED, detail: str = "") -> XAccount:
    account = XAccount(
        inbox=make_inbox(x_user_id=x_user_id),
        status=status,
        status_detail=detail,
        status_changed_at=LONG_AGO,
        connected_at=CONNECTED_AT,
    )
    account.access_token = "access"
    account.refresh_token = "refresh"
    account.save()
    return account


def test_a_connected_account_needs_reconnection_with_a_reason_for_the_admin():
    # given
    account = account_for()

    # when
    changed = account_access_revoked(x_user_id=BRAND_ID, revoked_at=REVOKED_AT)

    # then
    assert changed == account
    account.refresh_from_db()
    assert account.status == XAccount.Status.NEEDS_RECONNECTION
    assert account.status_detail == (
        f"{account.inbox} revoked Backchannel's access on X on 24 May 2018 at 09:48 UTC. "
        "Connect it again to receive and send its DMs."
    )
    assert account.status_detail.startswith("@brand")
    assert account.status_changed_at > timezone.now() - timedelta(minutes=1)
    # Nothing else is touched: no call to X, tokens kept (reconnecting replaces them).
    assert (account.access_token, account.refresh_token, account.connected_at) == ("access", "refresh", CONNECTED_AT)


def test_the_reason_gives_the_revoke_time_in_utc():
    account = account_for()

    account_access_revoked(x_user_id=BRAND_ID, revoked_at=datetime.fromisoformat("2018-05-24T23:30:00-02:00"))

    account.refresh_from_db()
    assert "on 25 May 2018 at 01:30 UTC." in account.status_detail


def test_a_revoke_from_before_the_current_connection_is_a_stale_replay_and_changes_nothing():
    # given: the admin connected again after the revoke X is (re)delivering
    account = account_for()

    # when
    for revoked_at in (CONNECTED_AT - timedelta(days=1), CONNECTED_AT):
        assert account_access_revoked(x_user_id=BRAND_ID, revoked_at=revoked_at) is None

    # then
    account.refresh_from_db()
    assert (account.status, account.status_detail, account.status_changed_at) == (
        XAccount.Status.CONNECTED,
        "",
        LONG_AGO,
    )


def test_a_revoke_for_a_user_id_without_an_account_changes_nothing():
    account = account_for()

    assert account_access_revoked(x_user_id="999", revoked_at=REVOKED_AT) is None

    account.refresh_from_db()
    assert account.status == XAccount.Status.CONNECTED


def test_a_revoke_for_an_inbox_without_an_account_changes_nothing():
    make_inbox(x_user_id="12345")

    assert account_access_revoked(x_user_id="12345", revoked_at=REVOKED_AT) is None


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (XAccount.Status.DISCONNECTED, ""),
        (XAccount.Status.NEEDS_RECONNECTION, "X refused the refresh token: revoked."),
    ],
)
def test_an_account_that_is_not_connected_is_left_as_it_is(status: str, detail: str):
    # given
    account = account_for(status=status, detail=detail)

    # when
    changed = account_access_revoked(x_user_id=BRAND_ID, revoked_at=REVOKED_AT)

    # then
    assert changed is None
    account.refresh_from_db()
    assert (account.status, account.status_detail, account.status_changed_at) == (status, detail, LONG_AGO)


def test_a_second_delivery_of_the_same_revoke_changes_nothing_more():
    account = account_for()
    account_access_revoked(x_user_id=BRAND_ID, revoked_at=REVOKED_AT)
    account.refresh_from_db()
    first = (account.status, account.status_detail, account.status_changed_at)

    assert account_access_revoked(x_user_id=BRAND_ID, revoked_at=REVOKED_AT) is None

    account.refresh_from_db()
    assert (account.status, account.status_detail, account.status_changed_at) == first


@pytest.mark.skipif(not connection.features.has_select_for_update_of, reason="the database takes no row locks")
def test_the_account_row_is_read_under_a_lock_of_its_own():
    account_for()

    with CaptureQueriesContext(connection) as queries:
        account_access_revoked(x_user_id=BRAND_ID, revoked_at=REVOKED_AT)

    [locking] = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert locking.endswith('FOR UPDATE OF "twitter_channel_xaccount"')
