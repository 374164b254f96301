"""Helpers of the reply tests: files to attach, a reply with defaults, and threads released at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from inbox.models import Conversation
from inbox.services.replies import reply_create

CUSTOMER = "2244994945"
MB = 1024 * 1024


def upload(data: bytes, name: str = "photo.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def webp(size: int = 64) -> bytes:
    body = b"WEBPVP8 " + b"\x00" * (size - 12)
    return b"RIFF" + (len(body)).to_bytes(4, "little") + body


def padded(head: bytes, size: int) -> bytes:
    return head + b"\x00" * (size - len(head))


def create(conversation: Conversation, author, text: str = "It ships today.", token: str = "tok-1", **kw: Any):
    return reply_create(conversation_id=conversation.pk, author=author, text=text, client_token=token, **kw)


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released at the same moment; their results, or the errors they raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as exc:  # reported by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("This test needs PostgreSQL row locks; run it with DATABASE_URL set (make test does).")
