"""Starting the floor for a benchmark (a measuring reference, not product code; see ``bench/floor/__init__.py``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import harness
from bench.floor import schema

FLOOR_DATABASE_URL = os.environ.get(
    "BENCH_FLOOR_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/backchannel_floor_ref"
)
FLOOR_REDIS_URL = os.environ.get("BENCH_FLOOR_REDIS_URL", "redis://127.0.0.1:6379/7")
SOCKET_PATH = f"/ws/inbox/{harness.BUSINESS_ID}/"


def floor_env(database_url: str = FLOOR_DATABASE_URL, redis_url: str = FLOOR_REDIS_URL) -> dict[str, str]:
    return {
        **os.environ,
        "FLOOR_DATABASE_URL": database_url,
        "FLOOR_REDIS_URL": redis_url,
        "FLOOR_CONSUMER_SECRET": harness.CONSUMER_SECRET,
    }


def reset(database_url: str = FLOOR_DATABASE_URL, redis_url: str = FLOOR_REDIS_URL) -> None:
    """The floor's database and tables, empty, and its Redis database flushed."""
    import redis

    schema.recreate(database_url)
    redis.Redis.from_url(redis_url).flushdb()


@contextmanager
def running_floor(
    *, log_dir: Path, web_workers: int = 1, database_url: str = FLOOR_DATABASE_URL, redis_url: str = FLOOR_REDIS_URL
) -> Iterator[harness.Stack]:
    """The floor's web process (uvicorn, run as Backchannel's is) and its worker."""
    port = harness.free_port()
    commands = {
        "uvicorn": harness.uvicorn_command("bench.floor.app:app", port, web_workers),
        "worker": [sys.executable, "-m", "bench.floor.worker"],
    }
    env = floor_env(database_url, redis_url)
    with harness.running_processes(commands, port=port, log_dir=log_dir, env=env) as stack:
        yield stack
