"""Open sockets per agent (accounts/online.py) on Redis: re-stamps keep them, never bring a closed one back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from accounts import online


@pytest.fixture(autouse=True)
def on_redis(settings) -> Iterator[None]:
    from tests.helpers import REDIS_URL

    settings.REDIS_URL = REDIS_URL
    clear()
    yield
    clear()


def clear() -> None:
    online._mine.clear()
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{online.KEY_PREFIX}:*"):
        client.delete(key)


def test_a_re_stamp_that_read_a_socket_before_it_closed_does_not_bring_it_back():
    online.agent_socket_opened(user_id=7, connection="specific.a!1")
    read_by_the_refresher = dict(online._mine)

    online.agent_socket_closed(user_id=7, connection="specific.a!1")
    online._redis_stamp(read_by_the_refresher, only_existing=True)
    online._refresh()

    assert online.users_connected([7]) == set()


def test_a_socket_whose_first_stamp_failed_is_recorded_by_the_next_refresh():
    with online._lock:
        online._mine["specific.a!2"] = 8  # open here, but Redis never recorded it

    online._refresh()

    assert online.users_connected([8]) == {8}
