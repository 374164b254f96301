"""A real Celery worker for the tests that need one, on the test database and the test Redis.

Unit tests run tasks inline (``CELERY_TASK_ALWAYS_EAGER`` in tests/settings.py). A test that asks for
``celery_worker`` publishes its tasks to Redis instead, and a worker process started here
(``python -m celery -A config worker``) consumes them, from every queue the app routes to, against the
same PostgreSQL test database, with the X API pointed at the session's sandbox (never at X). The
worker sees committed rows only, so such a test runs with ``transaction=True`` (the fixture makes sure
of it; mark the test ``@pytest.mark.django_db(transaction=True)`` anyway, to say so).

The process is started once per session, the first time a test asks for it, and each test waits at its
end until the worker has finished every task it caused (rather than purging them: a purged task may leave
the app's bookkeeping, such as "a drain is queued", behind for the next test). Its log is in the pytest
temporary folder, and its tail is in every failure message.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import quote

import pytest

from tests.xsandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 60
STOP_SECONDS = 15

T = TypeVar("T")


@dataclass
class CeleryWorker:
    """The running worker: its process, its log, the queues it consumes and its node name (``name@host``)."""

    process: subprocess.Popen[bytes]
    log_path: Path
    queues: tuple[str, ...]
    node: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def fail(self, problem: str) -> NoReturn:
        pytest.fail(f"{problem}\nThe Celery worker's log ({self.log_path}) ends:\n{self.log_tail()}", pytrace=False)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            self.fail(f"The Celery worker is not running (it exited with code {self.process.returncode}).")

    def eventually(self, check: Callable[[], T], *, seconds: float = 60, interval: float = 0.1) -> T:
        """Run ``check`` until it passes (returns without an AssertionError); return what it returned.

        Fails with the last assertion and the worker's log after ``seconds``, or at once if the worker died.
        """
        deadline = time.monotonic() + seconds
        while True:
            try:
                return check()
            except AssertionError as exc:
                last = exc
            self.check_alive()
            if time.monotonic() >= deadline:
                self.fail(f"Still not done after {seconds:g} s: {last}")
            time.sleep(interval)

    def wait_idle(self, *, seconds: float = 60) -> None:
        """Wait until no task waits in the queues and the worker runs or holds none."""
        from config.celery import app

        def idle() -> None:
            with app.connection_for_write() as conn:
                for queue in self.queues:
                    # on Redis, declaring a queue only reads its length
                    waiting = conn.default_channel.queue_declare(queue=queue, passive=False).message_count
                    assert waiting == 0, f"{waiting} task(s) still wait in the {queue!r} queue"
            inspect = app.control.inspect(destination=[self.node], timeout=5, limit=1)
            held = {"active": inspect.active(), "reserved": inspect.reserved()}
            assert all(reply and reply.get(self.node) == [] for reply in held.values()), f"the worker holds {held}"

        self.eventually(idle, seconds=seconds)


def _database_url() -> str:
    """The URL of the database this test process uses, which pytest-django has renamed to ``test_<name>``."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail(
            f"A Celery worker needs the test database on PostgreSQL, not {connection.vendor}: a second "
            "process cannot share it otherwise. Set DATABASE_URL=postgres://… (make test does).",
            pytrace=False,
        )
    db = connection.settings_dict
    host = db["HOST"] or ""
    if host.startswith("/"):  # a Unix socket folder
        host = quote(host, safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{quote(db['USER'] or '', safe='')}{password}@{host}{port}/{quote(db['NAME'], safe='')}"


def _redis_url() -> str:
    from django.conf import settings

    if not settings.REDIS_URL:
        pytest.fail(
            "A Celery worker needs Redis as its broker, and REDIS_URL is not set for this test run. "
            "Set REDIS_URL=redis://127.0.0.1:6379/<db> (make test does).",
            pytrace=False,
        )
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(f"REDIS_URL={settings.REDIS_URL} does not answer ({exc}); is Redis running?", pytrace=False)
    return settings.REDIS_URL


def _purge() -> None:
    """Drop every message waiting in the worker's queues: nothing carries over from one session to the next."""
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in _queues():  # app.control.purge() empties only the queues the app declared (`default`)
            conn.default_channel.queue_purge(queue)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM: finish the task at hand), then kill the whole process group if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        # the prefork pool's children are in the worker's own process group (start_new_session below)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_SECONDS)


def _queues() -> tuple[str, ...]:
    """The default queue and every queue a task is routed to (``CELERY_TASK_ROUTES``), as production workers."""
    from django.conf import settings

    routed = [route["queue"] for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values() if "queue" in route]
    return tuple(dict.fromkeys([settings.CELERY_TASK_DEFAULT_QUEUE, *routed]))


def _sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    """Settings that point the worker's X client at the sandbox, as ``x_sandbox`` does in this process."""
    app = sandbox.control("GET", "app")
    return {
        "X_API_BASE_URL": sandbox.base_url,
        "X_AUTHORIZE_URL": f"{sandbox.base_url}/i/oauth2/authorize",
        "X_CLIENT_ID": app["client_id"],
        "X_CLIENT_SECRET": app["client_secret"],
        "X_BEARER_TOKEN": app["bearer_token"],
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }


def _start(folder: Path, sandbox: Sandbox) -> CeleryWorker:
    redis_url = _redis_url()
    database_url = _database_url()
    queues = _queues()
    _purge()  # what an earlier, interrupted run left in the queue
    node = f"tests-{os.getpid()}@%h"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BACKCHANNEL_TEST_CELERY_EAGER": "0",
        "PYTHONUNBUFFERED": "1",
        **_sandbox_env(sandbox),
    }
    log_path = folder / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(queues), "--concurrency", "1",
             "--pool", "prefork", "-l", "INFO", "--without-gossip", "--without-mingle", "-n", node],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # its own process group: a Ctrl-C in pytest reaches pytest only, which then stops the worker
            start_new_session=True,
        )  # fmt: skip
    worker = CeleryWorker(process=process, log_path=log_path, queues=queues)
    ready = re.compile("(" + re.escape(node.removesuffix("%h")) + r"\S+) ready\.")
    deadline = time.monotonic() + READY_SECONDS
    while not (match := ready.search(worker.log())):
        if process.poll() is not None:
            worker.fail(f"The Celery worker exited with code {process.returncode} before it was ready.")
        if time.monotonic() >= deadline:
            _stop(process)
            worker.fail(f"The Celery worker was not ready within {READY_SECONDS} s.")
        time.sleep(0.1)
    worker.node = match.group(1)
    return worker


@pytest.fixture(scope="module")
def celery_worker_process(
    django_db_setup, sandbox_process: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryWorker]:
    """One worker per test module on the test database, stopped when the module ends: left running, it
    would take the tasks meant for the worker processes other modules start themselves
    (``worker_processes.Workers``), such as the one a test kills in the middle of a send."""
    worker = _start(tmp_path_factory.mktemp("celery-worker"), sandbox_process)
    try:
        yield worker
    finally:
        _stop(worker.process)
        _purge()


@pytest.fixture
def celery_worker(celery_worker_process: CeleryWorker, transactional_db) -> Iterator[CeleryWorker]:
    """A real worker for this test: tasks this process enqueues go to Redis, and the worker runs them.

    At the end it waits for the worker to finish what the test caused, before the database is flushed.
    """
    from config.celery import app

    celery_worker_process.check_alive()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield celery_worker_process
        celery_worker_process.wait_idle()
    finally:
        app.conf.task_always_eager = eager
