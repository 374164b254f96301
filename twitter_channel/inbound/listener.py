"""The ingest listener: a thread in each Celery worker process that drains webhook deliveries when told.

``deliveries_receive`` issues ``NOTIFY`` (``deliveries.NOTIFY_CHANNEL``) in the transaction that stores a
delivery. Each listener holds a PostgreSQL connection of its own that ``LISTEN``s on that channel, and runs
``deliveries_drain`` whenever a notification arrives: one DM goes from the webhook's commit to its ingest
with no Redis flag, nudge list or Celery task in between, and the drains of several listeners work at once
(``deliveries`` takes a lock per conversation, so they never work on the same conversation together).

Why a thread in the Celery worker rather than a task or a process of its own: a lingering drain task
waiting on ``LISTEN`` still needs someone to enqueue it when none is lingering, and that enqueue goes
through Redis (a flag, the broker), the hop this path removes; a process type of its own would be one more
thing to run, watch and scale in every deployment, for what the workers already host. A listener per
worker process (``worker_process_init`` in the prefork pool; ``worker_ready`` otherwise) gives as many
parallel drains as the worker has processes, starts and stops with them (a worker stopped or killed loses
nothing: the batch it held rolls back, and the next listener to start drains what waits), and needs Redis
for nothing: while Redis is stopped or frozen, deliveries are still stored, woken and ingested (only the
live push to agents waits for Redis). ``X_WEBHOOK_INGEST=0`` keeps a worker's processes from listening
(e.g. workers given the ``send`` queue alone). Between notifications a listener looks for waiting
deliveries every ``LOOK_EVERY_SECONDS`` anyway, and drains at once after (re)connecting.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import psycopg
from django.conf import settings
from django.db import OperationalError, close_old_connections, connection

from twitter_channel.inbound.deliveries import NOTIFY_CHANNEL, deliveries_drain
from twitter_channel.models import WebhookDelivery

log = logging.getLogger(__name__)

LOOK_EVERY_SECONDS = 30.0
RETRY_SECONDS = 1.0

_started_in: int | None = None
_start_lock = threading.Lock()


def listener_start() -> bool:
    """Start this process's listener thread unless it runs already, or ingest is off here; True if started.

    Off when ``X_WEBHOOK_INGEST`` is false, tasks run inline (nothing to listen for: drains run after
    commit) or the database is not PostgreSQL.
    """
    global _started_in
    if not settings.X_WEBHOOK_INGEST or settings.CELERY_TASK_ALWAYS_EAGER or connection.vendor != "postgresql":
        return False
    with _start_lock:
        if _started_in == os.getpid():
            return False
        _started_in = os.getpid()
    threading.Thread(target=_listen_forever, name="webhook-ingest-listener", daemon=True).start()
    return True


def _listen_forever() -> None:
    failing_since: float | None = None
    while True:
        try:
            with _listening_connection() as listening:
                if failing_since is not None:
                    log.info("The webhook ingest listener is back")
                    failing_since = None
                _drain_whenever_told(listening)
        except Exception as exc:
            if failing_since is None:
                failing_since = time.monotonic()
                log.warning("The webhook ingest listener stopped (%s: %s); starting again", type(exc).__name__, exc)
            close_old_connections()
            time.sleep(RETRY_SECONDS)


def _listening_connection() -> psycopg.Connection:
    """A connection of the listener's own (not the pool's: it stays in LISTEN), to the project's database."""
    db = connection.settings_dict
    options = {key: value for key, value in db.get("OPTIONS", {}).items() if key in ("sslmode", "options")}
    return psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
        connect_timeout=10,
        application_name="backchannel-ingest-listener",
        **options,
    )


def _drain_whenever_told(listening: psycopg.Connection) -> None:
    """LISTEN first, then drain: a delivery committed between the two is both waiting and notified."""
    listening.execute(f"LISTEN {NOTIFY_CHANNEL}")
    while True:
        if _claimable(listening):
            _drain()
        if not list(listening.notifies(timeout=LOOK_EVERY_SECONDS, stop_after=1)):
            continue  # nothing said: look anyway
        list(listening.notifies(timeout=0))  # what else arrived meanwhile: the drain takes it all at once


def _claimable(listening: psycopg.Connection) -> bool:
    """Whether a delivery waits that no drain holds, asked on the listener's own connection.

    Every listener wakes on every ``NOTIFY``, and all but one find the delivery already taken: this one
    statement (``SKIP LOCKED``, in autocommit, so its lock ends with it) spares each of them a drain's
    transaction. A drain that meanwhile skips the row this look locked for an instant loses nothing: the
    look found it, so this listener drains it.
    """
    row = listening.execute(
        f"SELECT 1 FROM {WebhookDelivery._meta.db_table} WHERE status = %s LIMIT 1 FOR UPDATE SKIP LOCKED",
        [WebhookDelivery.Status.RECEIVED.value],
    ).fetchone()
    return row is not None


def _drain() -> None:
    try:
        deliveries_drain()
    except OperationalError:
        # the batch rolled back (database unreachable, a deadlock): its deliveries wait for the next look
        log.warning("A webhook drain failed on the database; trying again shortly", exc_info=True)
        time.sleep(RETRY_SECONDS)
    except Exception:
        log.exception("A webhook drain failed")
        time.sleep(RETRY_SECONDS)
    finally:
        close_old_connections()  # a broken connection is replaced; a good one goes back to the pool
