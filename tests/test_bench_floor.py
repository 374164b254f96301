"""The benchmark's own parts: the minimal floor (bench/floor/) does its job end to end, the load generator's
websocket client reads what a real server sends, and CPU time is counted by process id, never negative.

Real PostgreSQL, Redis and uvicorn; no timing is asserted (CPU seconds counted are, since they do not
depend on how busy the machine is).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from bench import cpu, loadgen
from bench.floor import schema
from bench.floor.stack import SOCKET_PATH, running_floor
from tests.helpers import REDIS_URL


@pytest.fixture
def floor_database() -> Iterator[str]:
    """A database of the floor's own next to the test database, dropped afterwards."""
    url = urlsplit(os.environ.get("DATABASE_URL", ""))
    if not url.scheme.startswith("postgres"):
        pytest.fail("The floor runs on PostgreSQL: set DATABASE_URL=postgres://… (make test does).", pytrace=False)
    database_url = urlunsplit(url._replace(path=f"/test_{url.path.lstrip('/')}_floor"))
    schema.recreate(database_url)
    yield database_url
    with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(database_url).path.lstrip("/")}" WITH (FORCE)')


def test_the_floor_stores_a_signed_delivery_once_and_pushes_it_to_every_socket(
    floor_database: str, tmp_path: Path
) -> None:
    with running_floor(log_dir=tmp_path, database_url=floor_database, redis_url=REDIS_URL) as stack:
        session = loadgen.Session.of(stack.base_url)

        async def deliver_twice() -> None:
            await session.open_sockets(SOCKET_PATH, [[], []])
            try:
                # warm_up raises unless both sockets receive the event; the second POST is X's retry
                await session.warm_up(session.requests([7]))
                connection = await loadgen.Connection.open(session.host, session.port)
                status, _ = await connection.exchange(loadgen.signed_request(7, session.authority))
                connection.close()
                assert status == 200
            finally:
                await session.close_sockets()

        asyncio.run(deliver_twice())
        forged = requests.post(
            stack.base_url + loadgen.WEBHOOK_PATH,
            data=loadgen.delivery(8),
            headers={"x-twitter-webhooks-signature": loadgen.signature(b"something else")},
            timeout=10,
        )
        assert forged.status_code == 403

    with psycopg.connect(floor_database) as conn:
        stored = conn.execute("SELECT x_event_id, text FROM floor_messages").fetchall()
        deliveries = conn.execute("SELECT count(*) FROM floor_deliveries WHERE processed_at IS NOT NULL").fetchone()
    assert stored == [(int(loadgen.event_id(7)), "bench message 7")]
    assert deliveries == (2,)


def test_frames_are_read_as_the_servers_send_them() -> None:
    one = b'{"event": "message.created", "data": {"x_event_id": "11", "text": "hi"}}'
    batch = b'{"events": [{"event": "conversation.updated", "data": {}}, {"event": "message.created", "data": {"x_event_id": "12"}}]}'  # noqa: E501
    listed = b'[{"event": "message.created", "data": {"x_event_id": "13"}}]'
    other = b'{"event": "conversation.updated", "data": {"x_event_id": "14"}}'
    assert [loadgen.message_ids(f) for f in (one, batch, listed, other)] == [["11"], ["12"], ["13"], []]


BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"
# Says it is ready, waits for a line, starts a child that burns 0.5 s of CPU, rests, says done, and sleeps.
PARENT = (
    "import subprocess, sys, time\n"
    "print('ready', flush=True); sys.stdin.readline()\n"
    "subprocess.run([sys.executable, '-c', {child!r}])\n"
    "print('done', flush=True); time.sleep(60)\n"
)


def test_cpu_is_counted_by_process_id_for_processes_born_during_the_run_and_never_negative(
    floor_database: str,
) -> None:
    child = BURN.format(seconds=0.5) + "time.sleep(0.5)\n"  # rests so that the meter sees its last second
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(child=child)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    # A process of the same program that is not a descendant: counting by name would count it.
    outsider = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nprint('ready', flush=True); sys.stdin.readline()\n" + BURN.format(seconds=0.5),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for process in (parent, outsider):
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        postmaster = cpu.postmaster_of(floor_database)
        assert postmaster is not None, "PostgreSQL runs on this machine in the test setup"
        meter = cpu.CpuMeter(
            {
                "tree": cpu.ProcessTree((parent.pid,)),
                "postgres": cpu.PostgresBackends(postmaster, urlsplit(floor_database).path.lstrip("/")),
                "load generator": cpu.ThisProcess(),
            },
            interval=0.05,
        ).start()
        for process in (parent, outsider):
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        with psycopg.connect(floor_database) as conn:
            conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
        assert parent.stdout is not None and parent.stdout.readline().strip() == "done"
        outsider.wait(60)
        report = meter.stop()
    finally:
        parent.kill()
        outsider.kill()
        parent.wait()

    assert all(used >= 0 for used in report.used.values()), report.used
    assert report.processes["tree"] == 2  # the parent and the child it started during the run
    # The child's 0.5 s (and its start-up) are counted from its start; the outsider's 0.5 s are not.
    assert 0.4 <= report.used["tree"] < 0.9, report.used
    assert report.processes["postgres"] >= 1 and report.used["postgres"] > 0, report
