"""`manage.py sync_dms`: poll now, or re-read DMs since a moment, and say what was imported."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.utils import timezone

from inbox.models import Message
from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
from tests.twitter_channel.inbound.test_backfill import customer_writes
from tests.xsandbox import BUSINESS_ID
from twitter_channel.management.commands.sync_dms import parse_since
from twitter_channel.models import XAccount

pytestmark = pytest.mark.django_db


def sync_dms(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("sync_dms", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def exit_code(capsys, *args: str) -> tuple[int, str]:
    """Run it as `manage.py sync_dms ...` would: the process's exit code and what it printed on stderr."""
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "sync_dms", *args])
    return exited.value.code, capsys.readouterr().err


def test_a_poll_of_one_account_prints_what_it_imported(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    for n in range(3):
        customer_writes(x_sandbox, f"Message {n}")

    out, err = sync_dms("--account", "@AcmeSupport")

    assert out == "@AcmeSupport: polled X (2 pages): 3 events, 3 new messages imported.\n" and err == ""
    assert Message.objects.filter(conversation__inbox=account.inbox).count() == 3
    account.refresh_from_db()
    assert account.last_polled_at is not None


def test_every_connected_account_is_polled_by_default_and_an_x_id_names_one(x_sandbox):
    connect_through_sandbox(x_sandbox)
    customer_writes(x_sandbox, "Hello")

    first, _ = sync_dms()
    second, _ = sync_dms("--account", BUSINESS_ID)

    assert first == "@AcmeSupport: polled X (2 pages): 1 events, 1 new message imported.\n"
    assert second == "@AcmeSupport: polled X (1 page): 1 events, 0 new messages imported.\n"


def test_since_reads_back_to_that_moment(x_sandbox):
    account = connect_through_sandbox(x_sandbox)
    for n in range(4):
        customer_writes(x_sandbox, f"Message {n}")
    sync_dms()  # all four are stored
    Message.objects.filter(conversation__inbox=account.inbox, text__in=["Message 0", "Message 2"]).delete()

    out, _ = sync_dms("--account", "AcmeSupport", "--since", "1h")

    assert out.startswith("@AcmeSupport: read X back to ")
    assert out.endswith(" (1 page): 4 events, 2 new messages imported.\n")
    assert Message.objects.filter(conversation__inbox=account.inbox).count() == 4


def test_an_unknown_account_is_a_clear_error_with_a_failing_exit_code(x_sandbox, capsys):
    connect_through_sandbox(x_sandbox)

    with pytest.raises(CommandError, match=r"No X account '@nobody' here\. Known accounts: @AcmeSupport\."):
        sync_dms("--account", "@nobody")
    code, err = exit_code(capsys, "--account", "@nobody")

    assert code == 1 and "No X account '@nobody' here" in err


@pytest.mark.parametrize("since", ["yesterday", "7", "0d", "2026-13-45", "7w"])
def test_a_bad_since_is_a_clear_error_with_a_failing_exit_code(capsys, since):
    with pytest.raises(CommandError, match=r"--since"):
        sync_dms("--since", since)
    code, err = exit_code(capsys, "--since", since)

    assert code == 1 and "--since" in err


def test_a_since_in_the_future_is_refused():
    tomorrow = (timezone.localdate() + timedelta(days=2)).isoformat()

    with pytest.raises(CommandError, match="is in the future"):
        sync_dms("--since", tomorrow)


def test_since_accepts_days_hours_dates_and_times():
    now = timezone.now()

    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("12h", now=now) == now - timedelta(hours=12)
    midnight = parse_since("2026-11-01", now=now.replace(year=2027))
    assert (timezone.localtime(midnight).date().isoformat(), timezone.localtime(midnight).hour) == ("2026-11-01", 0)
    exact = parse_since("2026-11-01T10:30:00+00:00", now=now.replace(year=2027))
    assert exact.isoformat() == "2026-11-01T10:30:00+00:00"


def test_an_account_that_needs_reconnecting_fails_the_command(x_sandbox, capsys):
    account = connect_through_sandbox(x_sandbox)
    XAccount.objects.filter(pk=account.pk).update(status=XAccount.Status.NEEDS_RECONNECTION)

    code, err = exit_code(capsys, "--account", "@AcmeSupport")

    assert code == 1
    assert "@AcmeSupport is needs reconnection" in err and "Fetching failed for @AcmeSupport" in err


def test_with_no_connected_account_there_is_nothing_to_do():
    out, _ = sync_dms()

    assert out == "No connected X account: nothing to fetch.\n"
