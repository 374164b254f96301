"""Redis trouble degrades, never stops: webhook POSTs are answered and ingested while Redis is stopped or
frozen (the ingest is woken through PostgreSQL, not Redis), and the web process and worker survive it.

A production-shaped stack of its own (uvicorn and a Celery worker) on the test database and a Redis server
of the test's own (``tests/redis_server.py``), which the test stops or freezes while X keeps POSTing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from inbox.models import Message
from tests.celery_worker import ROOT, _database_url, _stop
from tests.factories import make_inbox, make_x_account
from tests.live_uvicorn import UvicornProcess
from tests.redis_server import OwnRedis
from tests.twitter_channel.inbound.webhook_deliveries import FIRST_ID, T0_MS, aaa, message
from tests.xsandbox import BUSINESS_ID

SECRET = "outage-consumer-secret"
READY_SECONDS = 90
# X's pace in the measurement: 20 deliveries a second.
DELIVERIES_DURING_OUTAGE = 40
PACE_SECONDS = 0.05


@dataclass
class Stack:
    """uvicorn and a Celery worker on the test database and a Redis of the test's own."""

    web: UvicornProcess
    env: dict[str, str]
    folder: Path
    worker: subprocess.Popen[bytes] | None = None

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-30:])
            for path in sorted(self.folder.glob("*.log"))
        )

    def post(self, n: int) -> requests.Response:
        body = json.dumps(
            aaa(direct_message_events=[message(FIRST_ID + n * 4096, text=f"m{n}", at_ms=T0_MS + n)])
        ).encode()
        signature = "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        return requests.post(
            f"{self.web.base_url}/twitter/webhook/",
            data=body,
            headers={"content-type": "application/json", "x-twitter-webhooks-signature": signature},
            timeout=60,
        )

    def alive(self) -> bool:
        return self.web.alive() and self.worker is not None and self.worker.poll() is None

    def start_worker(self) -> None:
        starts = self._worker_log().count(" ready.")
        with (self.folder / "worker.log").open("ab") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,send", "--concurrency",
                 "2", "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + READY_SECONDS
        while self._worker_log().count(" ready.") <= starts:
            if self.worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The worker did not start.\n{self.logs()}", pytrace=False)
            time.sleep(0.2)

    def kill_worker(self) -> None:
        """kill -9 of the worker and its pool: whatever it was doing stops where it was."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(30)

    def _worker_log(self) -> str:
        path = self.folder / "worker.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def stack(transactional_db, own_redis: OwnRedis, tmp_path: Path) -> Iterator[Stack]:
    settings = {
        "REDIS_URL": own_redis.url,
        "BACKCHANNEL_TEST_CELERY_EAGER": "0",
        "X_CONSUMER_SECRET": SECRET,
        "X_API_BASE_URL": "http://127.0.0.1:9",  # nothing here may call X
    }
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _database_url(),
           "PYTHONUNBUFFERED": "1", **settings}  # fmt: skip
    running = Stack(UvicornProcess(tmp_path / "web.log", env=settings), env, tmp_path)
    try:
        running.web.start()
        running.start_worker()
        yield running
    finally:
        own_redis.thaw()
        running.web.stop()
        if running.worker is not None:
            _stop(running.worker)


def stored_texts() -> list[str]:
    return list(Message.objects.filter(conversation__inbox__x_user_id=BUSINESS_ID).values_list("text", flat=True))


def eventually_stored(stack: Stack, expected: set[str], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        texts = stored_texts()
        if set(texts) >= expected:
            assert len(texts) == len(set(texts)), "a delivery was stored twice"
            return
        if not stack.alive() or time.monotonic() > deadline:
            missing = sorted(expected - set(texts), key=lambda t: int(t[1:]))
            pytest.fail(f"{len(missing)} never stored ({missing[:5]}...)\n{stack.logs()}", pytrace=False)
        time.sleep(0.25)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("trouble", ["stopped", "frozen"])
def test_webhook_posts_are_answered_and_ingested_through_a_redis_outage(
    stack: Stack,
    own_redis: OwnRedis,
    trouble: str,
):
    # given a connected account whose DMs flow (the first one goes all the way through)
    make_x_account(inbox=make_inbox(x_user_id=BUSINESS_ID))
    assert stack.post(0).status_code == 200
    eventually_stored(stack, {"m0"})
    web_pid, worker_pid = stack.web.pid, stack.worker.pid

    # when Redis stops (or freezes) and X keeps POSTing
    own_redis.stop() if trouble == "stopped" else own_redis.freeze()
    answers = []
    for n in range(1, DELIVERIES_DURING_OUTAGE + 1):
        answers.append(stack.post(n).status_code)
        time.sleep(PACE_SECONDS)

    # then every POST was answered 200 while Redis was still away: the answer waits for the row, not for Redis
    assert answers == [200] * DELIVERIES_DURING_OUTAGE, f"{answers}\n{stack.logs()}"
    # and every DM was ingested, once, while Redis is still away: the worker is woken through PostgreSQL
    eventually_stored(stack, {f"m{n}" for n in range(DELIVERIES_DURING_OUTAGE + 1)})

    # and once Redis is back, the next DM goes through as usual, with the same processes
    own_redis.start() if trouble == "stopped" else own_redis.thaw()
    assert stack.post(DELIVERIES_DURING_OUTAGE + 1).status_code == 200
    eventually_stored(stack, {f"m{n}" for n in range(DELIVERIES_DURING_OUTAGE + 2)})
    assert stack.alive() and (stack.web.pid, stack.worker.pid) == (web_pid, worker_pid), stack.logs()
    assert "Unrecoverable error" not in (stack.folder / "worker.log").read_text(errors="replace"), stack.logs()


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_starts_drains_what_a_killed_one_left_behind(stack: Stack):
    # given DMs flowing, and the worker killed (kill -9) while its drain lingers for the next DM
    make_x_account(inbox=make_inbox(x_user_id=BUSINESS_ID))
    assert stack.post(0).status_code == 200
    eventually_stored(stack, {"m0"})
    stack.kill_worker()

    # when DMs arrive meanwhile (nobody hears their NOTIFY), and then a worker starts
    for n in range(1, 6):
        assert stack.post(n).status_code == 200
    stack.start_worker()

    # then the new worker drains them at once, without waiting for the sweep
    eventually_stored(stack, {f"m{n}" for n in range(6)})
