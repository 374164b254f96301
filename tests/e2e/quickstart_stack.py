"""The quick start as a user runs it: ``scripts/run-quickstart.sh`` (what ``make run`` runs, under honcho),
started from a test on free ports, a PostgreSQL database and a Redis server of its own, a sandbox world in
the test's folder. Stopped with Ctrl-C (SIGINT to its process group), as in a terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from bench.harness import RedisServer, free_port
from tests.xsandbox import ROOT

READY = "Backchannel is ready."
START_SECONDS = 240
STOP_SECONDS = 60


@dataclass
class QuickStart:
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.env['SANDBOX_PORT']}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def start(self) -> None:
        """Run the script and wait until its last process says the stack is ready (a new "ready" line)."""
        readies = self.log().count(READY) if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "run-quickstart.sh")],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while self.log().count(READY) <= readies:
            if self.process.poll() is not None:
                pytest.fail(f"The quick start exited ({self.process.returncode}):\n{self.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"The quick start was not ready in {START_SECONDS} s:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.25)

    def stop(self) -> None:
        """Ctrl-C, as in the terminal: honcho stops every process; all must be gone."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_SECONDS)
            pytest.fail(f"Ctrl-C did not stop the quick start:\n{self.log_tail()}", pytrace=False)
        finally:
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def sql(self, query: str, *params: Any) -> list[tuple]:
        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def manage(self, *args: str) -> str:
        """``python manage.py …`` against the stack's database and settings."""
        env = {**self.env, "DJANGO_DEBUG": "1"}  # as the script runs them
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def customer_texts(self, customer: str, business: str = "AcmeSupport") -> list[str]:
        """The business's messages in ``customer``'s conversation, as the customer reads them on X (the sandbox)."""
        token = requests.post(f"{self.sandbox_url}/sandbox/api/tokens", json={"user": customer}, timeout=10).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        business_id = requests.get(f"{self.sandbox_url}/2/users/by/username/{business}", headers=headers, timeout=10)
        business_id = business_id.json()["data"]["id"]
        texts: list[str] = []
        params = {"max_results": "100", "dm_event.fields": "sender_id,text", "event_types": "MessageCreate"}
        while True:
            page = requests.get(
                f"{self.sandbox_url}/2/dm_conversations/with/{business_id}/dm_events",
                headers=headers, params=params, timeout=10,
            ).json()  # fmt: skip
            texts += [e["text"] for e in page.get("data", []) if e.get("sender_id") == business_id]
            token = page.get("meta", {}).get("next_token")
            if not page.get("data") or not token:
                return texts
            params["pagination_token"] = token


def _database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres:postgres@127.0.0.1:5432/postgres"
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[QuickStart]:
    """A started quick start, stopped and its database dropped at the end."""
    redis_server = RedisServer(port=free_port(), folder=tmp_path)
    redis_server.start()
    database = f"bc_quickstart_{uuid.uuid4().hex[:10]}"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "X_"))}
    env.update(
        VENV=sys.prefix,
        PORT=str(free_port()),
        SANDBOX_PORT=str(free_port()),
        DATABASE_URL=_database_url(database),
        REDIS_URL=redis_server.url,
        X_SANDBOX_DB=str(tmp_path / "sandbox.sqlite3"),
        QUICKSTART_STATE=str(tmp_path / "state"),
    )
    stack = QuickStart(env=env, log_path=tmp_path / "quickstart.log")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        redis_server.stop()
        with psycopg.connect(_database_url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
