"""A production-shaped Backchannel on this machine for benchmarks: PostgreSQL, Redis, uvicorn, Celery workers.

The benchmark gets its own database (dropped and migrated on every run) and its own Redis database
number, so it never touches development or test data.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/backchannel_bench"
)
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
CONSUMER_SECRET = "bench-consumer-secret"
BUSINESS_ID = "1500000000000000001"  # the X user id of the inbox every webhook benchmark delivers to


def bench_env(*, database_url: str = BENCH_DATABASE_URL, redis_url: str = BENCH_REDIS_URL) -> dict[str, str]:
    """The environment of a benchmark's processes; a benchmark with data of its own passes its own URLs."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SECRET_KEY": "bench-only-" + "k" * 50,
        "DJANGO_HTTPS": "0",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "TOKEN_ENCRYPTION_KEY": "YmVuY2gtb25seS10b2tlbi1rZXktMzItYnl0ZXMhISE=",
        "X_CONSUMER_SECRET": CONSUMER_SECRET,
        "X_API_BASE_URL": "http://127.0.0.1:9",  # nothing may call X during a benchmark
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recreate_database(env: dict[str, str] | None = None) -> None:
    """Drop, create and migrate the database of ``env`` (default: ``bench_env()``) and flush its Redis."""
    env = env or bench_env()
    url = urlsplit(env["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = urlunsplit(url._replace(path="/postgres"))
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def django_setup(env: dict[str, str] | None = None) -> None:
    os.environ.update(env or bench_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@dataclass
class Stack:
    base_url: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # one per process: the part of the stack it is

    def pids(self) -> dict[str, int]:
        """Each process's id by the part it is (``uvicorn``, ``celery``...), for ``bench/cpu.py``."""
        return {name: process.pid for name, process in zip(self.names, self.processes, strict=True)}


@contextmanager
def running_stack(
    *, web_workers: int = 1, celery_concurrency: int = 2, log_dir: Path, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """uvicorn (HTTP + websockets) and a Celery worker on the bench database and Redis (or ``env``'s)."""
    port = free_port()
    commands = {
        "uvicorn": uvicorn_command("config.asgi:application", port, web_workers),
        "celery": [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "WARNING", "-Q", "default,send",
                   "--concurrency", str(celery_concurrency), "--without-gossip", "--without-mingle",
                   "--without-heartbeat"],
    }  # fmt: skip
    with running_processes(commands, port=port, log_dir=log_dir, env=env or bench_env()) as stack:
        yield stack


def uvicorn_command(app: str, port: int, workers: int) -> list[str]:
    """uvicorn as every benchmark runs it: the same loop, HTTP and websocket implementations for each app."""
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log"]  # fmt: skip


@contextmanager
def running_processes(
    commands: dict[str, list[str]], *, port: int, log_dir: Path, env: dict[str, str]
) -> Iterator[Stack]:
    """Start ``commands`` (by part name) from the project's folder, wait until ``/healthz`` on ``port``
    answers 200, and stop them all on the way out. Each process logs to ``log_dir/<part>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(base_url=f"http://127.0.0.1:{port}")
    try:
        for name, command in commands.items():
            log = (log_dir / f"{name}.log").open("wb")
            stack.processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            stack.names.append(name)
        _wait_healthy(stack, log_dir)
        yield stack
    finally:
        for process in stack.processes:
            process.terminate()
        for process in stack.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_healthy(stack: Stack, log_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(stack.base_url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if any(p.poll() is not None for p in stack.processes):
            break
        time.sleep(0.25)
    raise SystemExit(f"The benchmark stack did not become healthy; see the logs in {log_dir}.")


@dataclass
class RedisServer:
    """A ``redis-server`` of one's own on ``port`` (nothing kept on disk), to stop and freeze at will.

    ``stop`` ends the process and its data goes with it, as when Redis restarts; ``start`` brings a new one
    up on the same port. ``freeze`` suspends it (SIGSTOP): the port still accepts connections but nothing
    is answered until ``thaw``, which is what a Redis stuck behind a full disk, a swap storm or a paused VM
    looks like to its clients. Benchmarks and tests use it; nobody else's Redis is touched.
    """

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, ready_seconds: float = 20) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        import redis

        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [executable, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + ready_seconds
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
