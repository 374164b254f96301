"""The audit log: filtered by person, kind and days (in the current time zone), 50 a page, the filters kept
across pages; a filter that makes no sense answers 400 saying which and why, never a 500."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from inbox.models import Conversation, ConversationEvent
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox

pytestmark = pytest.mark.django_db

Kind = ConversationEvent.Kind


def conversation() -> Conversation:
    inbox = make_inbox()
    made = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation
    ConversationEvent.objects.all().delete()  # the "started" row: each test writes the rows it counts
    return made


def event(conv: Conversation, kind: str, actor: User | None, at: datetime) -> ConversationEvent:
    row = ConversationEvent.objects.create(conversation=conv, kind=kind, actor=actor)
    ConversationEvent.objects.filter(pk=row.pk).update(created_at=at)
    return row


def shown(response) -> list[int]:
    return [e.pk for e in response.context["page"]]


@pytest.fixture
def admin_client(client):
    client.force_login(make_agent(role=User.Role.ADMIN, name="Ada Admin"))
    return client


def test_the_filters_find_by_person_kind_and_days_in_the_current_time_zone(admin_client, settings):
    settings.TIME_ZONE = "America/New_York"
    ny = ZoneInfo("America/New_York")
    conv = conversation()
    bob, cleo = make_agent(name="Bob"), make_agent(name="Cleo")
    late_on_the_1st = event(conv, Kind.ASSIGNED, bob, datetime(2026, 12, 1, 23, 30, tzinfo=ny))  # the 2nd in UTC
    on_the_2nd = event(conv, Kind.PRIORITY_CHANGED, bob, datetime(2026, 12, 2, 9, 0, tzinfo=ny))
    by_cleo = event(conv, Kind.ASSIGNED, cleo, datetime(2026, 12, 2, 10, 0, tzinfo=ny))
    automatic = event(conv, Kind.REOPENED, None, datetime(2026, 12, 3, 8, 0, tzinfo=ny))
    url = reverse("inbox:audit")

    def find(**query: object) -> list[int]:
        response = admin_client.get(url, query)
        assert response.status_code == 200, response.context["form"].errors
        return shown(response)

    assert find() == [automatic.pk, by_cleo.pk, on_the_2nd.pk, late_on_the_1st.pk]
    assert find(person=bob.pk) == [on_the_2nd.pk, late_on_the_1st.pk]
    assert find(person="system") == [automatic.pk]
    assert find(kind="assigned") == [by_cleo.pk, late_on_the_1st.pk]
    assert find(since="2026-12-01", until="2026-12-01") == [late_on_the_1st.pk]
    assert find(since="2026-12-02") == [automatic.pk, by_cleo.pk, on_the_2nd.pk]
    assert find(until="2026-12-02", person=bob.pk, kind="priority_changed") == [on_the_2nd.pk]
    assert find(since="2026-12-04") == []


def test_fifty_a_page_and_the_filters_are_kept_in_the_page_links(admin_client):
    conv = conversation()
    bob = make_agent(name="Bob")
    start = timezone.now() - timedelta(days=1)
    bobs = [event(conv, Kind.ASSIGNED, bob, start + timedelta(minutes=i)) for i in range(120)]
    for i in range(10):
        event(conv, Kind.ASSIGNED, None, start + timedelta(minutes=i, seconds=30))
    url = reverse("inbox:audit")

    first = admin_client.get(url, {"person": bob.pk, "kind": "assigned"})
    third = admin_client.get(url, {"person": bob.pk, "kind": "assigned", "page": 3})

    newest_first = [e.pk for e in reversed(bobs)]
    assert shown(first) == newest_first[:50] and shown(third) == newest_first[100:]
    text = first.content.decode()
    assert f'href="?person={bob.pk}&amp;kind=assigned&amp;page=2" rel="next"' in text
    assert "1–50 of 120 changes matching the filters." in text and "Page 1 of 3" in text
    assert f'href="?person={bob.pk}&amp;kind=assigned&amp;page=2" rel="prev"' in third.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"kind": "deleted"}, "Select a valid choice. deleted is not one of the available choices."),
        ({"person": "999999"}, "Select a valid choice. 999999 is not one of the available choices."),
        ({"since": "yesterday"}, "“From” is a day written YYYY-MM-DD."),
        ({"until": "2026-02-30"}, "“To” is a day written YYYY-MM-DD."),
        ({"since": "2026-12-05", "until": "2026-12-01"}, "“To” (2026-12-01) is before “From” (2026-12-05)."),
        ({"until": "9999-12-31"}, "9999-12-31 is out of range: days from 2000 to 2999."),
        ({"page": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"page": "two"}, "The page is a whole number, 1 or more."),
        ({"page": "7"}, "There is no page 7: the log has 1 page for these filters."),
    ],
)
def test_a_bad_filter_answers_400_with_a_precise_message(admin_client, query, message):
    response = admin_client.get(reverse("inbox:audit"), query)

    assert response.status_code == 400
    assert message in response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")


def test_the_audit_log_is_for_admins_only(client):
    for role in (User.Role.LEAD, User.Role.AGENT, User.Role.SOCIAL):
        client.force_login(make_agent(role=role))
        assert client.get(reverse("inbox:audit"), {"kind": "assigned"}).status_code == 403


QUERY_KEYS = st.sampled_from(["person", "kind", "since", "until", "page", "x", "page[]", ""])
HOSTILE_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["system", "assigned", "2026-12-01", "0001-01-01", "9999-12-31", "1e309", "٣", "\x00", "%00"]),
    st.dates().map(str),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(QUERY_KEYS, HOSTILE_VALUES), max_size=6))
def test_hostile_query_strings_answer_200_or_400_never_500(admin_client, pairs):
    response = admin_client.get(f"{reverse('inbox:audit')}?{urlencode(pairs)}")

    assert response.status_code in (200, 400), (pairs, response.status_code)
