"""A Redis server of a test's own (``bench.harness.RedisServer``), to stop and freeze without touching the
one the suite shares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import RedisServer, free_port

OwnRedis = RedisServer


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A started ``redis-server`` on a free port, in the test's folder; stopped (thawed first) at the end."""
    server = RedisServer(port=free_port(), folder=tmp_path)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
