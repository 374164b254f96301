"""A redis-server of a test's own (``bench.harness.RedisServer``), on a free port, that the test may stop or
freeze: the suite's Redis is shared (other tests, other runs), so a test that needs Redis down or not
answering never touches it. ``own_redis`` is registered in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import RedisServer, free_port

OwnRedis = RedisServer
__all__ = ["OwnRedis", "free_port", "own_redis"]


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
