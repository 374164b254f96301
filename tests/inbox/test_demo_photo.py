"""The demo's photo is stored with the demo, so it shows instead of "Photo is being copied from X…" forever."""

from __future__ import annotations

import struct
import zlib

import pytest
from django.urls import reverse

from inbox.models import MessageAttachment
from inbox.services import demo_media
from inbox.services.demo import CRASH_PHOTO, demo_seed

pytestmark = pytest.mark.django_db


def png_size(content: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header, after checking the signature and the header's checksum."""
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", content[8:16])
    data = content[16 : 16 + length]
    assert kind == b"IHDR" and struct.unpack(">I", content[16 + length : 20 + length])[0] == zlib.crc32(kind + data)
    return struct.unpack(">II", data[:8])


def test_the_demo_photo_is_stored_and_served_to_an_agent(client):
    # given
    seed = demo_seed()
    agent = next(a for a in seed.agents if a.role == "agent")
    client.force_login(agent)

    # when
    photo = MessageAttachment.objects.get(media_key=CRASH_PHOTO.media_key)
    response = client.get(reverse("inbox:attachment", args=[photo.pk]))

    # then
    assert photo.stored_at is not None and photo.download_error == ""
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert png_size(content) == (demo_media.WIDTH, demo_media.HEIGHT) == (photo.width, photo.height)
    thread = client.get(reverse("inbox:thread", args=[photo.message.conversation_id])).content.decode()
    assert "is being copied from X" not in thread
    assert f'src="{reverse("inbox:attachment", args=[photo.pk])}"' in thread


def test_seeding_again_keeps_the_file_and_fills_in_one_seeded_before_the_demo_drew_it():
    # given a demo seeded when the photo was left waiting for a copy from X
    demo_seed()
    photo = MessageAttachment.objects.get(media_key=CRASH_PHOTO.media_key)
    photo.file.delete(save=False)
    MessageAttachment.objects.filter(pk=photo.pk).update(file="", stored_at=None)

    # when
    demo_seed()
    stored = MessageAttachment.objects.get(pk=photo.pk)
    demo_seed()

    # then
    assert stored.file and stored.stored_at is not None
    assert MessageAttachment.objects.get(pk=photo.pk).file.name == stored.file.name  # a second seed keeps it
    assert MessageAttachment.objects.filter(media_key=CRASH_PHOTO.media_key).count() == 1
