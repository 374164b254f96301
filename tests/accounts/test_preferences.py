"""An agent's own preferences: the service, the page, and the time zone each request is rendered in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import AgentPreferences
from accounts.selectors import preferences_of
from accounts.services import preferences_sound_set, preferences_update
from accounts.time_zones import BROWSER_ZONE_COOKIE, TimeZoneMiddleware, request_time_zone
from tests.factories import make_agent

pytestmark = pytest.mark.django_db

ALL_ON = {"desktop_notifications": True, "sound": True, "notify_mine": True, "notify_unassigned": True}


def test_an_agent_without_a_row_has_the_defaults_and_nothing_is_written():
    agent = make_agent()

    preferences = preferences_of(agent)

    assert (preferences.time_zone, preferences.sound, preferences.desktop_notifications) == ("", True, True)
    assert (preferences.notify_mine, preferences.notify_unassigned, preferences.notify_teams) == (True, True, True)
    assert not AgentPreferences.objects.exists()


def test_preferences_update_stores_a_valid_zone_and_the_alert_choices():
    agent = make_agent()

    preferences_update(user=agent, time_zone=" Asia/Tokyo ", **{**ALL_ON, "sound": False}, notify_teams=False)

    stored = AgentPreferences.objects.get(user=agent)
    assert (stored.time_zone, stored.sound, stored.notify_teams, stored.notify_mine) == (
        "Asia/Tokyo",
        False,
        False,
        True,
    )


@pytest.mark.parametrize("zone", ["Mars/Olympus", "asia/tokyo", "../etc/passwd", "localtime", "Asia"])
def test_preferences_update_refuses_a_zone_that_is_not_an_iana_name(zone):
    agent = make_agent()
    preferences_update(user=agent, time_zone="Europe/Paris", **ALL_ON, notify_teams=True)

    with pytest.raises(ValueError, match="Unknown time zone"):
        preferences_update(user=agent, time_zone=zone, **ALL_ON, notify_teams=True)

    assert AgentPreferences.objects.get(user=agent).time_zone == "Europe/Paris"


def test_the_mute_button_changes_the_sound_only():
    agent = make_agent()
    preferences_update(user=agent, time_zone="America/New_York", **ALL_ON, notify_teams=False)

    preferences_sound_set(user=agent, sound=False)

    stored = AgentPreferences.objects.get(user=agent)
    assert (stored.sound, stored.time_zone, stored.notify_teams) == (False, "America/New_York", False)


def test_the_preferences_page_saves_and_shows_what_was_saved(client):
    agent = make_agent()
    client.force_login(agent)

    page = client.get(reverse("preferences"))
    saved = client.post(
        reverse("preferences"),
        {"time_zone": "Asia/Tokyo", "sound": "on", "notify_mine": "on", "notify_teams": "on"},
        follow=True,
    )

    assert page.status_code == 200 and 'value="Asia/Tokyo"' in page.content.decode()
    assert saved.redirect_chain == [(reverse("preferences"), 302)]
    html = saved.content.decode()
    assert "Preferences saved." in html
    assert '<option value="Asia/Tokyo" selected>' in html
    stored = AgentPreferences.objects.get(user=agent)
    assert (stored.sound, stored.desktop_notifications, stored.notify_unassigned) == (True, False, False)


def test_the_preferences_page_refuses_an_unknown_zone_and_keeps_the_old_one(client):
    agent = make_agent()
    client.force_login(agent)

    response = client.post(reverse("preferences"), {"time_zone": "Mars/Olympus", "sound": "on"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not AgentPreferences.objects.exists()


def test_the_sound_endpoint_mutes_and_refuses_other_values(client):
    agent = make_agent()
    client.force_login(agent)

    muted = client.post(reverse("preferences_sound"), {"sound": "off"})
    bad = client.post(reverse("preferences_sound"), {"sound": "loud"})

    assert muted.json() == {"sound": False} and bad.status_code == 400
    assert preferences_of(agent).sound is False


def test_preferences_need_a_login(client):
    response = client.get(reverse("preferences"))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _request(user=None, cookie: str | None = None):
    request = RequestFactory().get("/")
    if cookie is not None:
        request.COOKIES[BROWSER_ZONE_COOKIE] = cookie
    if user is not None:
        request.user = user
    return request


def test_the_chosen_zone_wins_over_the_browsers():
    agent = make_agent()
    preferences_update(user=agent, time_zone="Asia/Tokyo", **ALL_ON, notify_teams=True)

    assert request_time_zone(_request(agent, cookie="America/New_York")) == ("Asia/Tokyo", False)


def test_without_a_chosen_zone_the_browsers_is_used_and_a_bad_cookie_falls_back_to_utc():
    agent = make_agent()

    assert request_time_zone(_request(agent, cookie="America/New_York")) == ("America/New_York", True)
    assert request_time_zone(_request(agent, cookie="Not/AZone")) == ("UTC", True)
    assert request_time_zone(_request(agent)) == ("UTC", True)


def test_the_middleware_activates_the_agents_zone_for_the_request_only():
    agent = make_agent()
    preferences_update(user=agent, time_zone="Asia/Tokyo", **ALL_ON, notify_teams=True)
    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone_name()
        seen["nine_utc"] = timezone.localtime(datetime(2026, 12, 8, 0, 0, tzinfo=UTC)).strftime("%H:%M")
        seen["attributes"] = (request.time_zone, request.time_zone_from_browser)
        return None

    TimeZoneMiddleware(view)(_request(agent))

    assert seen == {"zone": "Asia/Tokyo", "nine_utc": "09:00", "attributes": ("Asia/Tokyo", False)}
    assert timezone.get_current_timezone_name() == "UTC"


def test_every_page_tells_the_browser_the_zone_it_was_rendered_in(client):
    agent = make_agent()
    client.force_login(agent)

    client.cookies[BROWSER_ZONE_COOKIE] = "America/New_York"
    following = client.get(reverse("inbox:home")).content.decode()
    preferences_update(user=agent, time_zone="Asia/Tokyo", **ALL_ON, notify_teams=True)
    chosen = client.get(reverse("inbox:home")).content.decode()

    assert '<html lang="en" data-time-zone="America/New_York" data-time-zone-auto>' in following
    assert '<html lang="en" data-time-zone="Asia/Tokyo">' in chosen
    assert 'href="/me/preferences/"' in chosen
