"""Our copies of DM media: the file stored for an attachment, or why it could not be."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from inbox import realtime
from inbox.models import MessageAttachment


def attachment_file_store(*, attachment_id: int, content: bytes, content_type: str, name: str) -> bool:
    """Store ``content`` as the attachment's file; False when another worker stored it first.

    Changes the attachment's ``file``, ``content_type``, ``stored_at`` and ``size_bytes`` (if X gave
    none), and clears ``download_error``. Locks the attachment row, so two workers store one file.
    Publishes ``message.updated`` for its message after commit, so open threads show the file.
    """
    with transaction.atomic():
        attachment = (
            MessageAttachment.objects.select_for_update().select_related("message__conversation").get(pk=attachment_id)
        )
        if attachment.file:
            return False
        attachment.file.save(name, ContentFile(content), save=False)
        attachment.content_type = content_type
        attachment.stored_at = timezone.now()
        attachment.download_error = ""
        if attachment.size_bytes is None:
            attachment.size_bytes = len(content)
        attachment.save(update_fields=["file", "content_type", "stored_at", "download_error", "size_bytes"])
        realtime.publish_message(attachment.message, event="message.updated")
    return True


def attachment_download_failed(*, attachment_id: int, reason: str) -> None:
    """Record why the attachment's file could not be copied (shown to agents instead of the file).

    Changes ``download_error`` only; locks nothing; publishes nothing.
    """
    MessageAttachment.objects.filter(pk=attachment_id).update(download_error=reason[:2000])
