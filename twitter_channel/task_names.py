"""Background work asked for by task name, so the modules that enqueue a task never import ``twitter_channel.tasks``.

``tasks`` is the Celery interface: each task imports the service that does its work, inside the task. If those
services imported ``tasks`` back to enqueue the next piece of work, the two would import each other in a circle
(the layering that ``make lint`` checks forbids it). So a service looks its task up by the name it is registered
under, when it enqueues: ``task(REPLY_SEND).apply_async(...)``. The inbox asks for ``reply_send`` the same way
(``inbox.services.replies.SEND_TASK``), because it imports nothing of the X channel.
"""

from __future__ import annotations

from celery import Task, current_app

ATTACHMENT_DOWNLOAD = "twitter_channel.attachment_download"
DM_BACKFILL = "twitter_channel.dm_backfill"
HANDOFF_BATCH_GENERATE = "twitter_channel.handoff_batch_generate"
REPLY_SEND = "twitter_channel.reply_send"
WEBHOOK_DELIVERIES_DRAIN = "twitter_channel.webhook_deliveries_drain"


def task(name: str) -> Task:
    """The task registered as ``name`` (``twitter_channel.tasks`` registers them when Django starts)."""
    return current_app.tasks[name]
