"""Small helpers several test folders share: a database that refuses one message, an agent's websocket and
its next event."""

from __future__ import annotations

import collections
import os
import time
import weakref
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.db import connection

# The suite's Redis: REDIS_URL as `make test` sets it, or the local default for tests that need Redis anyway.
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"
REFUSED_TEXT = "refused by the database"
REFUSAL = "this message is refused"
_REFUSING_TRIGGER = f"""
CREATE FUNCTION refuse_one_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.text = '{REFUSED_TEXT}' THEN RAISE EXCEPTION '{REFUSAL}'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_one_message BEFORE INSERT ON inbox_message FOR EACH ROW EXECUTE FUNCTION refuse_one_message();
"""


def database_refuses_one_message() -> None:
    """From now on (in this test's transaction) PostgreSQL refuses to insert a message whose text is
    ``REFUSED_TEXT``: a real database error, raised by a trigger, for the paths that must survive one."""
    if connection.vendor != "postgresql":
        pytest.fail("This test installs a PostgreSQL trigger; run with DATABASE_URL set.")
    with connection.cursor() as cursor:
        cursor.execute(_REFUSING_TRIGGER)


def database_takes_every_message() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_one_message ON inbox_message")


async def next_event(communicator: WebsocketCommunicator, name: str, seconds: float = 30) -> dict[str, Any]:
    """The data of the next websocket event called ``name`` (others are skipped)."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {name} event within {seconds} s"
        event = await receive_event(communicator, timeout=left)
        if event["event"] == name:
            return event["data"]


# Events of a frame read but not yet returned, per communicator: a frame carries one event, or the list
# of events published together (inbox/realtime.py), and tests read them one by one.
_unread: weakref.WeakKeyDictionary[WebsocketCommunicator, collections.deque[dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def receive_event(communicator: WebsocketCommunicator, timeout: float = 30) -> dict[str, Any]:
    """The next event (or answer: ``pong``, ``error``) the socket got, whether its frame held one or several."""
    unread = _unread.setdefault(communicator, collections.deque())
    if not unread:
        frame = await communicator.receive_json_from(timeout=timeout)
        unread.extend(frame if isinstance(frame, list) else [frame])
    return unread.popleft()


def session_cookie(user: Any) -> bytes:
    """The ``Cookie`` header of a logged-in session of ``user``."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def inbox_socket(cookie: bytes) -> WebsocketCommunicator:
    """The inbox websocket opened with ``cookie`` (``session_cookie``), connected; the test fails if refused."""
    from config.asgi import application

    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    assert connected, f"the websocket was refused ({code})"
    return communicator
