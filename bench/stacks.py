"""The two stacks the webhook benchmarks drive with the same load generator: Backchannel and the floor.

A ``Target`` is a running stack as the load generator sees it: where to POST, which websocket path each
socket opens with which headers, and the parts whose CPU time is counted (by process id, ``bench/cpu.py``).

Backchannel runs as ``bench/harness.py`` starts it (uvicorn and a Celery worker on ``BENCH_DATABASE_URL``
and ``BENCH_REDIS_URL``); its sockets are agents of the inbox, each with a session of their own. The floor
(``bench/floor/``, a measuring reference) runs on ``BENCH_FLOOR_DATABASE_URL`` and ``BENCH_FLOOR_REDIS_URL``;
its sockets are plain clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench import cpu, harness
from bench.floor import stack as floor_stack

ORIGIN = ("Origin", "http://127.0.0.1")


@dataclass
class Target:
    name: str
    base_url: str
    socket_path: str
    socket_headers: list[list[tuple[str, str]]]  # one entry per socket it may open (agent or client)
    parts: dict[str, cpu.Watch]
    description: str


def cpu_parts(pids: dict[str, int], database_url: str) -> dict[str, cpu.Watch]:
    """Each started process with its descendants, the PostgreSQL backends of the stack's database (if
    PostgreSQL runs on this machine), and the load generator."""
    parts: dict[str, cpu.Watch] = {name: cpu.ProcessTree((pid,)) for name, pid in pids.items()}
    postmaster = cpu.postmaster_of(database_url)
    if postmaster is not None:
        parts["postgres"] = cpu.PostgresBackends(postmaster, urlsplit(database_url).path.lstrip("/"))
    else:
        print(f"PostgreSQL's backends are not counted: its server does not run on this machine ({database_url})")
    parts["load generator"] = cpu.ThisProcess()
    return parts


def prepare(env: dict[str, str] | None = None) -> str:
    """A connected inbox and an agent who is a member; return the agent's session cookie value."""
    harness.django_setup(env)
    from django.utils import timezone

    from accounts.models import User
    from accounts.services import user_create
    from inbox.services.inboxes import inbox_member_add, inbox_upsert
    from twitter_channel.models import XAccount

    agent = user_create(email="bench@example.test", password="bench-password-1", name="Bench", role=User.Role.AGENT)
    inbox = inbox_upsert(x_user_id=harness.BUSINESS_ID, handle="AcmeSupport", display_name="Acme Support")
    inbox_member_add(inbox=inbox, user=agent)
    now = timezone.now()
    account = XAccount(inbox=inbox, status_changed_at=now, connected_at=now, scopes="dm.read dm.write")
    account.access_token, account.refresh_token = "bench-access", "bench-refresh"
    account.save()
    return session_of(agent)


def session_of(user: object) -> str:
    """A logged-in session of ``user``; its key is the ``sessionid`` cookie."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)  # type: ignore[attr-defined]
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()  # type: ignore[attr-defined]
    session.create()
    assert session.session_key is not None
    return session.session_key


def prepare_agents(count: int) -> list[str]:
    """A fresh bench database with the connected inbox and ``count`` agents of it (``prepare``'s first),
    each logged in; return their session cookies."""
    harness.recreate_database()
    cookies = [prepare()]
    from accounts.models import User
    from accounts.services import user_create
    from inbox.models import Inbox
    from inbox.services.inboxes import inbox_member_add

    inbox = Inbox.objects.get(x_user_id=harness.BUSINESS_ID)
    for n in range(1, count):
        agent = user_create(email=f"agent{n}@example.test", password=None, name=f"Agent {n}", role=User.Role.AGENT)
        inbox_member_add(inbox=inbox, user=agent)
        cookies.append(session_of(agent))
    return cookies


@contextmanager
def backchannel(
    cookies: list[str], *, log_dir: Path, web_workers: int = 1, celery_concurrency: int = 2
) -> Iterator[Target]:
    with harness.running_stack(web_workers=web_workers, celery_concurrency=celery_concurrency, log_dir=log_dir) as s:
        database = urlsplit(harness.BENCH_DATABASE_URL).path.lstrip("/")
        yield Target(
            name="Backchannel",
            base_url=s.base_url,
            socket_path="/ws/inbox/",
            socket_headers=[[("Cookie", f"sessionid={cookie}"), ORIGIN] for cookie in cookies],
            parts=cpu_parts(s.pids(), harness.BENCH_DATABASE_URL),
            description=(
                f"uvicorn x{web_workers}, celery concurrency {celery_concurrency}, PostgreSQL {database}, "
                f"Redis {harness.BENCH_REDIS_URL}"
            ),
        )


@contextmanager
def floor(*, clients: int, log_dir: Path, web_workers: int = 1) -> Iterator[Target]:
    with floor_stack.running_floor(log_dir=log_dir, web_workers=web_workers) as s:
        database = urlsplit(floor_stack.FLOOR_DATABASE_URL).path.lstrip("/")
        yield Target(
            name="floor",
            base_url=s.base_url,
            socket_path=floor_stack.SOCKET_PATH,
            socket_headers=[[ORIGIN] for _ in range(clients)],
            parts=cpu_parts(s.pids(), floor_stack.FLOOR_DATABASE_URL),
            description=(
                f"uvicorn x{web_workers} (bench.floor.app), 1 worker (bench.floor.worker), PostgreSQL {database}, "
                f"Redis {floor_stack.FLOOR_REDIS_URL}"
            ),
        )
