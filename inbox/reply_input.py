"""What an agent's reply may hold, checked before anything is stored: text, one attachment, the client token.

X's limits (x-api.md §2, §8): a DM's text is at most 10,000 characters; one attachment per message;
DM images (JPEG, PNG, WebP) up to 5 MB, GIFs up to 15 MB. A file's kind is decided by its first bytes,
never by its name or the type the browser declared. Every refusal is a ``ReplyError`` whose message can
be shown to the agent as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile

from inbox.models import MessageAttachment

MAX_TEXT_LENGTH = 10_000
MAX_TOKEN_LENGTH = 64  # Message.idempotency_key
MB = 1024 * 1024
MAX_IMAGE_BYTES = 5 * MB
MAX_GIF_BYTES = 15 * MB
SNIFF_BYTES = 16


class ReplyError(ValueError):
    """The reply cannot be accepted; ``str(error)`` says why, in words for the agent."""


class ReplyNotAllowed(ReplyError):
    """The author may not answer in this conversation (or the message is not theirs to change)."""


@dataclass(frozen=True)
class MediaKind:
    """A kind of file X takes in a DM: its type, our attachment's media type, X's upload category, the limit."""

    content_type: str
    media_type: str
    category: str
    max_bytes: int
    extension: str
    label: str


JPEG = MediaKind("image/jpeg", MessageAttachment.MediaType.PHOTO, "dm_image", MAX_IMAGE_BYTES, ".jpg", "JPEG image")
PNG = MediaKind("image/png", MessageAttachment.MediaType.PHOTO, "dm_image", MAX_IMAGE_BYTES, ".png", "PNG image")
WEBP = MediaKind("image/webp", MessageAttachment.MediaType.PHOTO, "dm_image", MAX_IMAGE_BYTES, ".webp", "WebP image")
GIF = MediaKind("image/gif", MessageAttachment.MediaType.ANIMATED_GIF, "dm_gif", MAX_GIF_BYTES, ".gif", "GIF")
KINDS = {kind.content_type: kind for kind in (JPEG, PNG, WEBP, GIF)}


def kind_for(content_type: str) -> MediaKind:
    """The kind a stored attachment was accepted as (by its ``content_type``)."""
    return KINDS[content_type]


def sniff(head: bytes) -> MediaKind | None:
    """The kind of file whose first bytes are ``head``; None for anything X does not take in a DM."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def text_clean(text: str | None, *, has_attachment: bool) -> str:
    """The text to send: trimmed, without NUL characters (no database or browser keeps them), with line
    breaks as ``\n`` (browsers submit a textarea's as ``\r\n``; X and the length count want one each).

    Refused: nothing to send (no text and no attachment) and text over X's 10,000 characters.
    """
    if text is not None and not isinstance(text, str):
        raise ReplyError("The reply's text must be text.")
    cleaned = (text or "").replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not cleaned and not has_attachment:
        raise ReplyError("Write a reply or attach an image before sending.")
    if len(cleaned) > MAX_TEXT_LENGTH:
        over = len(cleaned) - MAX_TEXT_LENGTH
        raise ReplyError(
            f"The reply is {len(cleaned):,} characters long; X allows at most {MAX_TEXT_LENGTH:,} in a direct "
            f"message. Shorten it by {over:,} character{'s' if over != 1 else ''}."
        )
    return cleaned


def token_check(client_token: str) -> str:
    """The client's token for this submission (one per composed reply: double clicks and resubmits reuse it)."""
    token = client_token.strip() if isinstance(client_token, str) else ""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise ReplyError("This reply form is out of date; reload the page and send again.")
    return token


def attachment_check(attachment: UploadedFile) -> MediaKind:
    """The kind of ``attachment``: a JPEG, PNG or WebP image up to 5 MB, or a GIF up to 15 MB, by its content."""
    name = attachment.name or "The file"
    size = attachment.size if attachment.size is not None else _measure(attachment)
    if not size:
        raise ReplyError(f"{name} is empty.")
    attachment.seek(0)
    head = attachment.read(SNIFF_BYTES)
    attachment.seek(0)
    kind = sniff(head)
    if kind is None:
        raise ReplyError(f"{name} is not a JPEG, PNG, WebP or GIF image; X only takes those in a direct message.")
    if size > kind.max_bytes:
        raise ReplyError(
            f"{name} is {_megabytes_up(size)}; X takes a {kind.label} of up to {kind.max_bytes // MB} MB "
            "in a direct message."
        )
    return kind


def _measure(attachment: UploadedFile) -> int:
    attachment.seek(0, 2)
    size = attachment.tell()
    attachment.seek(0)
    return size


def _megabytes_up(size: int) -> str:
    """``5.1 MB`` for a file just over 5 MB: rounded up, so a file over a limit never reads as at it."""
    return f"{math.ceil(size * 10 / MB) / 10:.1f} MB"
