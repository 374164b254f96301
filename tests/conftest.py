from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# The live ASGI server for browser tests runs in a child process. Forking a process that has run
# async tests inherits dead asgiref executor threads and the websocket handshake hangs; spawn does not.
multiprocessing.set_start_method("spawn", force=True)


@pytest.fixture
def redis_channel_layer(settings: Any) -> Iterator[None]:
    """The Redis channel layer as production configures it, also where the suite runs without REDIS_URL."""
    from channels.layers import channel_layers

    from tests.helpers import REDIS_URL

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": settings.CHANNEL_LAYER_SOCKET_TIMEOUT}],
                "prefix": "backchannel",
            },
        }
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def empty_test_redis() -> None:
    """Start from an empty test Redis database (the suite owns the ``REDIS_URL`` database it is given).

    Each run recreates the test database, so conversation and user ids start again at 1; entries an
    earlier run left in Redis under those ids (presence, sockets counted online) would otherwise show
    up as agents viewing conversations of this run until they expire.
    """
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def media_in_a_temporary_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Files a test stores (the demo's photo, copied media) go to a temporary folder, not the project's ``media/``.

    Browser tests keep the configured folder: their server runs in another process and must see the same files.
    """
    if request.node.get_closest_marker("e2e"):
        return
    settings = request.getfixturevalue("settings")
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture
def clean_online_state() -> Iterator[None]:
    """No agent counted online or idle before or after the test (``accounts.online``: this process and Redis).

    User ids repeat between runs (a fresh database), so connections left in Redis must not leak in.
    """
    from django.conf import settings

    from accounts import online

    def clear() -> None:
        online._mine.clear()
        online._idle.clear()
        if settings.REDIS_URL:
            import redis

            client = redis.Redis.from_url(settings.REDIS_URL)
            for prefix in (online.KEY_PREFIX, online.IDLE_PREFIX):
                for key in client.scan_iter(f"{prefix}:*"):
                    client.delete(key)

    clear()
    yield
    clear()


@dataclass
class Published:
    """Everything ``inbox.realtime`` sent to the channel layer, in order."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def events(self) -> list[str]:
        return [message["event"] for _, message in self.sent]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [message["data"] for _, message in self.sent if message["event"] == event]

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Iterator[Published]:
    """Record what services publish instead of sending it (the on-commit wiring stays real)."""
    from inbox import realtime

    record = Published()

    def capture(groups: tuple[str, ...], message: dict[str, Any]) -> None:
        for group in groups:
            record.sent.append((group, message))

    monkeypatch.setattr(realtime, "_group_send", capture)
    yield record


from tests.celery_worker import celery_worker, celery_worker_process  # noqa: E402,F401
from tests.redis_server import own_redis  # noqa: E402,F401  (a redis-server of the test's own)
from tests.xsandbox import sandbox, sandbox_process  # noqa: E402,F401  (fixtures shared by every folder)
