"""Hand parsed DM events of one connected account to the inbox (webhook processing and polling share this)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction

from inbox.dm_events import DmEvent
from inbox.models import MessageAttachment
from inbox.services.ingest import IngestResult, dm_events_ingest
from twitter_channel.handoff.links import handoff_attribute
from twitter_channel.models import XAccount
from twitter_channel.task_names import ATTACHMENT_DOWNLOAD, task


def account_events_ingest(
    *,
    account: XAccount,
    events: Iterable[DmEvent],
    on_error: Callable[[DmEvent, Exception], None] | None = None,
    savepoints: bool = True,
) -> list[IngestResult]:
    """Ingest ``events`` into the account's inbox, oldest first, each idempotently on X's event id.

    ``on_error`` is ``dm_events_ingest``'s: given, an event that cannot be stored (found so before the
    batch writes, or failing when written) is handed to it and the others are stored; without it, that
    event's error is raised. ``savepoints`` is ``dm_events_ingest``'s too.

    Then attributes new customer DMs to the "Send a private message" links that started them
    (``handoff.handoff_attribute``), and, after commit, enqueues ``twitter_channel.attachment_download``
    for every attachment of a newly created message that X says where to fetch and that has no stored
    file yet.
    """
    events = list(events)
    with_media = {event.x_event_id for event in events if event.attachments}
    results = dm_events_ingest(inbox=account.inbox, events=events, on_error=on_error, savepoints=savepoints)
    handoff_attribute(account=account, results=results)
    created = [r.message.pk for r in results if r.created and r.message.x_event_id in with_media]
    if created:
        attachments_download_enqueue(message_ids=created)
    return results


def attachments_download_enqueue(*, message_ids: list[int]) -> list[int]:
    """Enqueue the download of the not yet stored attachments of ``message_ids`` after commit; return their ids."""
    pending = (
        MessageAttachment.objects.filter(message_id__in=message_ids, file="")
        .exclude(download_url="", variants=[])
        .values_list("pk", flat=True)
    )
    attachment_ids = list(pending)
    for attachment_id in attachment_ids:
        # robust: a broker hiccup must not undo or break the ingest; the attachment just stays unstored.
        transaction.on_commit(_enqueue(attachment_id), robust=True)
    return attachment_ids


def _enqueue(attachment_id: int) -> Callable[[], None]:
    # A named function, not functools.partial: Django's log line for a failed robust callback reads __qualname__.
    def enqueue_attachment_download() -> None:
        task(ATTACHMENT_DOWNLOAD).delay(attachment_id)

    return enqueue_attachment_download
