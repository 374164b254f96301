"""The Celery app. Configuration lives in Django settings under the ``CELERY_`` namespace."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from celery.utils.threads import bound_open_broker_sockets  # type: ignore[attr-defined]  # celery 5.7; no stub yet
from celery.worker.consumer import Consumer
from kombu.common import ignore_errors

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Seconds between a worker's attempts to reach the broker again after losing it (Celery's own go 2, 4, 6 ...
# up to 30 s apart, so a worker could sit idle half a minute after Redis came back).
RECONNECT_INTERVAL_SECONDS = 1.0
CLOSE_SOCKET_TIMEOUT_SECONDS = 5.0
logger = logging.getLogger(__name__)


class PromptReconnectConsumer(Consumer):
    """Celery's consumer, trying the broker again every ``RECONNECT_INTERVAL_SECONDS`` after losing it.

    With ``broker_connection_max_retries`` None it never gives up either; together a worker rides out a Redis
    outage of any length and takes tasks again within about a second of Redis answering.
    """

    def ensure_connected(self, conn: Any) -> Any:
        ensure = conn.ensure_connection

        def ensure_connection(*args: Any, **kwargs: Any) -> Any:
            kwargs.update(
                interval_start=0, interval_step=RECONNECT_INTERVAL_SECONDS, interval_max=RECONNECT_INTERVAL_SECONDS
            )
            return ensure(*args, **kwargs)

        conn.ensure_connection = ensure_connection
        return super().ensure_connected(conn)

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        """Celery's cleanup after losing the broker, without the step that makes kombu 5.7 crash the worker.

        Celery ``collect()``s the lost connection before closing it, which drops the transport's client.
        Anything that then reaches Redis through that connection's channel (closing it gives unacknowledged
        messages back; the task still running acknowledges its message when it ends, after the reconnect)
        raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``, which is not a connection
        error: the worker stopped ("Unrecoverable error") whenever Redis went away while it held a task
        (acks_late), as it always does while a webhook drain lingers. Here the connection is closed without
        ``collect()``: giving messages back fails as a connection error (ignored: Redis hands them out again
        after its visibility timeout), and a late acknowledgement reaches Redis once it is back.
        """
        logger.warning("Lost the broker (%r); connecting again every %s s", exc, RECONNECT_INTERVAL_SECONDS)
        connection, self.connection = self.connection, None
        if connection is None:
            return
        bound_open_broker_sockets(connection, CLOSE_SOCKET_TIMEOUT_SECONDS)  # a frozen Redis must not hang this
        try:
            ignore_errors(connection, connection.close)
        except AttributeError as error:
            logger.warning("Ignored kombu's error closing the lost broker connection: %r", error)


app = Celery("backchannel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def connections_returned(sender: Task | None = None, **kwargs: Any) -> None:
    """Around each task, what Django does around a request: a connection that broke, or was left in a
    transaction, is closed; a good one goes back to the process's pool (``CELERY_DB_REUSE_MAX``).

    Not for a task run inline (unit tests): it runs inside its caller's connection and transaction.
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
