"""Times in the agent's zone: the snooze presets and the one format every time is written in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from accounts.services import preferences_update
from inbox.services.conversations import conversation_status_set
from inbox.services.ingest import dm_event_ingest
from inbox.templatetags.inbox_format import snooze_options, when
from tests.factories import dm, make_agent, make_inbox

TOKYO, NEW_YORK = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")


def presets(zone: ZoneInfo, now: datetime) -> dict[str, datetime]:
    with timezone.override(zone):
        return {label: datetime.fromisoformat(at) for label, at in snooze_options(now)}


def test_tomorrow_nine_is_nine_in_tokyo_just_before_midnight_there():
    # given 23:30 on Monday 7 Dec in Tokyo, which is 14:30 UTC: the server's own "tomorrow" would be Tuesday
    # 09:00 UTC, 18:00 in Tokyo
    now = datetime(2026, 12, 7, 23, 30, tzinfo=TOKYO)

    options = presets(TOKYO, now)

    tomorrow = options["Until tomorrow 09:00"]
    assert tomorrow.astimezone(TOKYO) == datetime(2026, 12, 8, 9, 0, tzinfo=TOKYO)
    assert tomorrow - now == timedelta(hours=9, minutes=30)
    assert options["Until Monday 09:00"].astimezone(TOKYO) == datetime(2026, 12, 14, 9, 0, tzinfo=TOKYO)


def test_just_after_midnight_in_tokyo_tomorrow_is_the_next_day_there():
    now = datetime(2026, 12, 8, 0, 15, tzinfo=TOKYO)  # still 7 Dec in UTC

    tomorrow = presets(TOKYO, now)["Until tomorrow 09:00"]

    assert tomorrow.astimezone(TOKYO) == datetime(2026, 12, 9, 9, 0, tzinfo=TOKYO)


def test_tomorrow_nine_in_new_york_late_in_the_evening_when_utc_is_already_tomorrow():
    now = datetime(2026, 12, 7, 22, 45, tzinfo=NEW_YORK)  # 03:45 UTC on 8 Dec

    options = presets(NEW_YORK, now)

    tomorrow = options["Until tomorrow 09:00"]
    assert tomorrow.astimezone(NEW_YORK) == datetime(2026, 12, 8, 9, 0, tzinfo=NEW_YORK)
    assert tomorrow.astimezone(UTC) == datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    hour = datetime.fromisoformat(next(at for label, at in snooze_options(now) if label == "For 1 hour"))
    assert hour - now == timedelta(hours=1)


def test_tomorrow_nine_across_new_yorks_change_of_clocks():
    now = datetime(2026, 3, 7, 20, 0, tzinfo=NEW_YORK)  # Saturday; clocks go forward on Sunday 8 March

    tomorrow = presets(NEW_YORK, now)["Until tomorrow 09:00"]

    assert tomorrow.astimezone(NEW_YORK).hour == 9
    assert tomorrow.astimezone(UTC) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # EDT, UTC-4


def test_when_writes_today_as_a_clock_and_other_days_with_the_date_in_the_active_zone():
    now = timezone.now()
    older = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)

    with timezone.override(TOKYO):
        today = when(now)
        other_day = when(older)
        with_seconds = when(older, "seconds")

    assert today == timezone.localtime(now, TOKYO).strftime("%H:%M")
    assert other_day == "6 Jan 2026, 08:30"
    assert with_seconds == "6 Jan 2026, 08:30:00"


def test_django_writes_a_plain_datetime_in_the_same_format():
    with timezone.override(NEW_YORK):
        rendered = Template("{{ at }}|{{ at|date }}|{{ at|time }}").render(
            Context({"at": datetime(2026, 12, 8, 13, 27, tzinfo=UTC)})
        )

    assert rendered == "8 Dec 2026, 08:27|8 Dec 2026|08:27"


@pytest.mark.django_db
def test_the_thread_header_offers_nine_and_shows_the_snooze_in_the_agents_zone(client):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation
    preferences_update(
        user=agent, time_zone="Asia/Tokyo", desktop_notifications=True, sound=True,
        notify_mine=True, notify_unassigned=True, notify_teams=True,
    )  # fmt: skip
    client.force_login(agent)

    offered = client.get(reverse("inbox:header", args=[conversation.pk])).content.decode()
    until = datetime(2027, 1, 4, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    conversation_status_set(conversation_id=conversation.pk, status="snoozed", actor=agent, snoozed_until=until)
    snoozed = client.get(reverse("inbox:header", args=[conversation.pk])).content.decode()

    tomorrow = timezone.localdate(timezone=TOKYO) + timedelta(days=1)
    nine = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, 0, tzinfo=TOKYO)
    assert (
        f'value="{nine.isoformat()}"><button type="submit" class="secondary">Until tomorrow 09:00</button>' in offered
    )
    assert 'Snoozed until <time datetime="2027-01-04T09:00:00+09:00" data-absolute>4 Jan 2027, 09:00</time>' in snoozed


def test_the_budget_line_writes_xs_reset_in_the_one_format_and_the_agents_zone():
    from types import SimpleNamespace

    from django.template.loader import render_to_string

    reset = (timezone.now() + timedelta(minutes=12)).replace(microsecond=0)  # X's windows reset within 15 minutes
    there = reset.astimezone(TOKYO)
    today = there.date() == timezone.localdate(timezone=TOKYO)
    written = f"{there:%H:%M}" if today else f"{there.day} {there:%b} {there.year}, {there:%H:%M}"
    budget = SimpleNamespace(
        paused_until=None, windows=["187 of 200 left this 15 minutes"], waiting=0,
        x_reported=[SimpleNamespace(left=14, reset_at=reset)],
    )  # fmt: skip
    account = SimpleNamespace(inbox=SimpleNamespace(handle="AcmeSupport"))

    with timezone.override(TOKYO):
        line = render_to_string("twitter_channel/_budget.html", {"budget": budget, "account": account})

    assert f'X says 14 left until <time datetime="{there.isoformat()}" data-absolute>{written}</time>' in line
    assert "AM" not in line and "PM" not in line
