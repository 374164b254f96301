"""The Celery app. Configuration lives in Django settings under the ``CELERY_`` namespace."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from celery.worker.consumer import Consumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Seconds between a worker's attempts to reach the broker again after losing it (Celery's own go 2, 4, 6 ...
# up to 30 s apart, so a worker could sit idle half a minute after Redis came back).
RECONNECT_INTERVAL_SECONDS = 1.0


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


app = Celery("backchannel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def connections_returned(sender: Task | None = None, **kwargs: Any) -> None:
    """Around each task, what Django does around a request: a connection that broke, or was left in a
    transaction, is closed; a good one goes back to the process's pool (``CELERY_DB_REUSE_MAX``).

    Not for a task run inline (the quick start, tests): it runs inside its caller's connection and transaction.
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
