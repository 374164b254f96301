"""Real Celery worker processes a test starts, kills with SIGKILL and starts again (tests/celery_worker.py
has the one shared worker of the session; these are the test's own, on the same test database and Redis).

``workers`` (fixture; import ``workers_fixture`` to use it) starts workers on demand
(``workers.start(...)``), turns this process's tasks from inline to Redis while they run, and at the
end stops them and empties the queues. ``redeliver`` does at once what Redis does to a dead worker's
unacknowledged tasks an hour later (the visibility timeout): puts them back in their queues, so a test
can show what a redelivered task does.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from kombu import Connection

from tests.celery_worker import (
    READY_SECONDS,
    ROOT,
    CeleryWorker,
    _database_url,
    _purge,
    _queues,
    _redis_url,
    _sandbox_env,
    _stop,
)
from tests.xsandbox import Sandbox


class Workers:
    """The worker processes of one test."""

    def __init__(self, folder: Path, sandbox: Sandbox) -> None:
        self.folder = folder
        self.sandbox = sandbox
        self.started: list[CeleryWorker] = []

    def start(self, name: str, *, concurrency: int = 1, env: dict[str, str] | None = None) -> CeleryWorker:
        """A new worker process (prefork, ``concurrency`` children) consuming every queue; waits until ready."""
        from config.celery import app

        app.conf.task_always_eager = False
        queues = _queues()
        node = f"{name}-{os.getpid()}@%h"
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": _redis_url(),
            "BACKCHANNEL_TEST_CELERY_EAGER": "0",
            "PYTHONUNBUFFERED": "1",
            **_sandbox_env(self.sandbox),
            **(env or {}),
        }
        log_path = self.folder / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(queues), "--concurrency",
                 str(concurrency), "--pool", "prefork", "-l", "INFO", "--without-gossip", "--without-mingle",
                 "-n", node],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        worker = CeleryWorker(process=process, log_path=log_path, queues=queues)
        self.started.append(worker)
        ready = re.compile("(" + re.escape(node.removesuffix("%h")) + r"\S+) ready\.")
        deadline = time.monotonic() + READY_SECONDS
        while not (match := ready.search(worker.log())):
            if process.poll() is not None:
                worker.fail(f"The Celery worker exited with code {process.returncode} before it was ready.")
            if time.monotonic() >= deadline:
                worker.fail(f"The Celery worker was not ready within {READY_SECONDS} s.")
            time.sleep(0.1)
        worker.node = match.group(1)
        return worker

    @staticmethod
    def kill(worker: CeleryWorker) -> None:
        """``kill -9`` the worker and its pool's children (its own process group): no shutdown, no acks."""
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(15)

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                _stop(worker.process)


def redeliver() -> None:
    """Put every unacknowledged task back in its queue now (Redis would after its visibility timeout)."""
    with Connection(settings.CELERY_BROKER_URL, transport_options={"visibility_timeout": 0}) as conn:
        conn.default_channel.qos.restore_visible(num=1000, interval=1)


@pytest.fixture(name="workers")
def workers_fixture(transactional_db, sandbox: Sandbox, tmp_path: Path) -> Iterator[Workers]:
    """Start worker processes with ``workers.start(name)``; all are stopped before the database is flushed."""
    from config.celery import app

    _purge()
    eager = app.conf.task_always_eager
    started = Workers(tmp_path, sandbox)
    try:
        yield started
    finally:
        started.stop_all()
        app.conf.task_always_eager = eager
        redeliver()
        _purge()
