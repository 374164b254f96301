"""The Celery app. Configuration lives in Django settings under the ``CELERY_`` namespace."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

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
