"""What an agent's presence is (accounts/presence.py), from their choice and their open inbox pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts import online
from accounts.models import User
from accounts.presence import presence_of, presences
from tests.factories import make_agent

ONLINE, AWAY, OFFLINE = User.Presence.ONLINE, User.Presence.AWAY, User.Presence.OFFLINE
AUTO = User.PresenceChoice.AUTO


@pytest.mark.parametrize(
    ("choice", "connected", "active", "is_active", "expected"),
    [
        (AUTO, True, True, True, ONLINE),
        (AUTO, True, False, True, AWAY),  # every page idle
        (AUTO, False, False, True, OFFLINE),  # no page open
        (User.PresenceChoice.AWAY, True, True, True, AWAY),  # chosen, whatever the page does
        (User.PresenceChoice.OFFLINE, True, True, True, OFFLINE),
        (User.PresenceChoice.AWAY, False, False, True, OFFLINE),  # chosen away, but nothing open
        (AUTO, True, True, False, OFFLINE),  # deactivated
    ],
)
def test_presence_follows_the_choice_and_the_pages(choice, connected, active, is_active, expected):
    assert presence_of(choice=choice, connected=connected, active=active, is_active=is_active) == expected


@pytest.fixture
def in_memory(settings) -> Iterator[None]:
    settings.REDIS_URL = ""  # one process: the sockets are counted in this module's memory
    online._mine.clear()
    online._idle.clear()
    yield
    online._mine.clear()
    online._idle.clear()


@pytest.mark.django_db
def test_two_tabs_one_idle_is_online_both_idle_away_closed_offline(in_memory):
    agent = make_agent()
    online.agent_socket_opened(user_id=agent.pk, connection="tab-1")
    online.agent_socket_opened(user_id=agent.pk, connection="tab-2")

    online.agent_socket_idle(user_id=agent.pk, connection="tab-1", idle=True)
    one_idle = presences([agent])[agent.pk]
    online.agent_socket_idle(user_id=agent.pk, connection="tab-2", idle=True)
    both_idle = presences([agent])[agent.pk]
    online.agent_socket_idle(user_id=agent.pk, connection="tab-2", idle=False)
    back = presences([agent])[agent.pk]
    online.agent_socket_closed(user_id=agent.pk, connection="tab-1")
    online.agent_socket_closed(user_id=agent.pk, connection="tab-2")
    closed = presences([agent])[agent.pk]

    assert (one_idle, both_idle, back, closed) == (ONLINE, AWAY, ONLINE, OFFLINE)


@pytest.mark.django_db
def test_marking_a_closed_socket_idle_changes_nothing(in_memory):
    agent = make_agent()
    online.agent_socket_idle(user_id=agent.pk, connection="gone", idle=True)

    assert online._idle == set()
    assert presences([agent])[agent.pk] == OFFLINE
