"""A real uvicorn process serving an ASGI application on the test database and the test Redis.

For tests whose subject is what only a real server does: sockets closed by a real client while events
are sent to them (uvicorn raises ``ClientDisconnected``), real TCP, a server that restarts on the same
port. The test must run with ``transaction=True``: the server sees committed rows only.
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

from bench.harness import free_port
from tests.celery_worker import _database_url
from tests.helpers import REDIS_URL

ROOT = Path(__file__).resolve().parents[1]


class UvicornProcess:
    def __init__(
        self, log_path: Path, *, app: str = "config.asgi:application", env: dict[str, str] | None = None
    ) -> None:
        """``env``: settings that differ from the test process's (another Redis, a consumer secret)."""
        self.log_path = log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._command = [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "warning",
        ]  # fmt: skip
        self._env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": REDIS_URL,
            **(env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start (again, on the same port) and wait until ``/healthz`` answers 200."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._command, cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while True:
            if self._process.poll() is not None:
                pytest.fail(f"uvicorn exited:\n{self.log()}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not become healthy:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop as a deployment does (SIGTERM: uvicorn closes its websockets, then exits)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)


@contextmanager
def uvicorn_server(log_path: Path, *, app: str = "config.asgi:application") -> Iterator[str]:
    """A started ``UvicornProcess``; yields its base URL, stops it at the end."""
    server = UvicornProcess(log_path, app=app)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()
