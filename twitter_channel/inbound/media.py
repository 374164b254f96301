"""Copying DM media from X into our storage, so agents' browsers never need X's credentials.

X serves DM media only to the conversation's members, with their own auth (x-api.md §9.7), so the file
is fetched with the connected account's token through ``XClient.media_download``; the inbox's service
``attachment_file_store`` keeps it on the attachment and tells open threads. Agents get it from
``inbox.views.media`` after a permission check. Only images and videos are kept; an SVG is refused
because it can carry scripts.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass

from django.conf import settings
from django.utils.text import get_valid_filename

from inbox.dm_events import MediaVariant
from inbox.models import MessageAttachment
from inbox.services import attachments
from twitter_channel.connection.tokens import client_for
from twitter_channel.inbound.parsing.v1 import best_variant
from twitter_channel.models import XAccount
from twitter_channel.x.errors import AuthError, PermanentError

log = logging.getLogger(__name__)
MEDIA_KINDS = ("image/", "video/")
# Image types a browser may run code in when the file is opened on its own.
REFUSED_TYPES = {"image/svg+xml"}
_EXTENSIONS = {"image/jpeg": ".jpg", "video/mp4": ".mp4", "video/quicktime": ".mov"}


@dataclass(frozen=True)
class DownloadOutcome:
    stored: bool
    error: str = ""


def _source_url(attachment: MessageAttachment) -> str:
    """The best video/GIF rendition when X listed several, else X's download URL."""
    if attachment.media_type != MessageAttachment.MediaType.PHOTO and attachment.variants:
        variants = tuple(
            MediaVariant(bitrate=v.get("bitrate"), content_type=v.get("content_type", ""), url=v.get("url", ""))
            for v in attachment.variants
            if isinstance(v, dict) and v.get("url")
        )
        chosen = best_variant(variants)
        if chosen:
            return chosen
    return attachment.download_url or attachment.url


def _media_type(content_type: str) -> str:
    """``image/png`` from ``Image/PNG; charset=x``; empty when it is not an image or video we keep."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not kind.startswith(MEDIA_KINDS) or kind in REFUSED_TYPES or "xml" in kind:
        return ""
    return kind


def _file_name(attachment: MessageAttachment, content_type: str) -> str:
    extension = _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""
    return get_valid_filename(f"{attachment.pk}-{attachment.media_key or attachment.media_type}{extension}")


def attachment_download(*, attachment_id: int) -> DownloadOutcome:
    """Fetch the attachment's file from X as its inbox's account and store it on ``attachment.file``.

    Already stored → nothing happens. X refusing (4xx), a file over ``X_MEDIA_MAX_BYTES``, an answer that
    is not an image or video, or an account that cannot call X → ``download_error`` is set and nothing is
    stored. ``RateLimited`` and ``Transient`` propagate for the task to retry. The download happens
    outside any transaction; storing locks the attachment row, so two workers store one file.
    """
    found = MessageAttachment.objects.select_related("message__conversation__inbox").filter(pk=attachment_id)
    attachment = found.first()
    if attachment is None:  # its message is gone (an echo folded into the reply it echoed, inbox.services.replies)
        return DownloadOutcome(stored=False, error="The attachment no longer exists.")
    if attachment.file:
        return DownloadOutcome(stored=True)
    url = _source_url(attachment)
    if not url:
        return attachment_download_failed(attachment_id=attachment_id, reason="X gave no address for this file.")
    account = XAccount.objects.filter(inbox_id=attachment.message.conversation.inbox_id).first()
    if account is None:
        return attachment_download_failed(attachment_id=attachment_id, reason="The inbox has no X account.")

    client = client_for(account)
    try:
        content, declared_type = client.media_download(url, max_bytes=settings.X_MEDIA_MAX_BYTES)
    except (PermanentError, AuthError) as exc:  # AuthError includes AccountNeedsReconnection
        return attachment_download_failed(attachment_id=attachment_id, reason=f"X did not hand over the file: {exc}")
    except ValueError as exc:  # the client refuses to send the token anywhere but X
        return attachment_download_failed(attachment_id=attachment_id, reason=str(exc))
    finally:
        client.close()

    content_type = _media_type(declared_type)
    if not content_type:
        reason = f"X sent {declared_type or 'an unknown type'!r}, not an image or a video; it was not kept."
        return attachment_download_failed(attachment_id=attachment_id, reason=reason)
    if not content:
        return attachment_download_failed(attachment_id=attachment_id, reason="X sent an empty file.")
    return _store(attachment, content, content_type)


def _store(attachment: MessageAttachment, content: bytes, content_type: str) -> DownloadOutcome:
    attachments.attachment_file_store(
        attachment_id=attachment.pk,
        content=content,
        content_type=content_type,
        name=_file_name(attachment, content_type),
    )
    log.info("Stored attachment %s (%s, %d bytes)", attachment.pk, content_type, len(content))
    return DownloadOutcome(stored=True)


def attachment_download_failed(*, attachment_id: int, reason: str) -> DownloadOutcome:
    """Record why the attachment's file could not be copied (shown to agents instead of the file)."""
    attachments.attachment_download_failed(attachment_id=attachment_id, reason=reason)
    log.warning("Attachment %s not stored: %s", attachment_id, reason)
    return DownloadOutcome(stored=False, error=reason)
