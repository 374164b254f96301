"""A real uvicorn process serving an ASGI application on the test database and the test Redis.

For tests whose subject is what only a real server does: sockets closed by a real client while events
are sent to them (uvicorn raises ``ClientDisconnected``), real TCP, a real process that can be killed.
The test must run with ``transaction=True``: the server sees committed rows only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.celery_worker import _database_url
from tests.helpers import REDIS_URL
from tests.redis_process import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def uvicorn_server(log_path: Path, *, app: str = "config.asgi:application") -> Iterator[str]:
    """Start uvicorn serving ``app``; yield its base URL once ``/healthz`` answers 200; stop it at the end."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": REDIS_URL,
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"uvicorn exited:\n{log_path.read_text(errors='replace')}")
            try:
                if requests.get(base_url + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (
                f"uvicorn did not become healthy:\n{log_path.read_text(errors='replace')}"
            )
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
