"""/media/dm/<id>/ serves our copy of a DM's media to whoever may see the conversation, and to nobody else."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from inbox.dm_events import DmMedia
from inbox.models import Inbox, MessageAttachment
from inbox.services.ingest import dm_events_ingest
from tests.factories import dm, make_agent, make_inbox, make_team
from tests.twitter_channel.x.client_sandbox import png
from tests.xsandbox import CUSTOMER_ID

pytestmark = pytest.mark.django_db
DATA = png()


def attachment_in(inbox: Inbox, *, stored: bool = True, download_error: str = "") -> MessageAttachment:
    event = replace(dm(inbox, CUSTOMER_ID, text="photo"), attachments=(DmMedia("photo", media_key="3_42"),))
    (result,) = dm_events_ingest(inbox=inbox, events=[event])
    attachment = result.message.attachments.get()
    if stored:
        attachment.file.save("42-3_42.png", ContentFile(DATA), save=False)
        attachment.content_type = "image/png"
        attachment.stored_at = timezone.now()
    attachment.download_error = download_error
    attachment.save()
    return attachment


def url_of(attachment: MessageAttachment | int) -> str:
    return reverse("inbox:attachment", args=[attachment if isinstance(attachment, int) else attachment.pk])


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def member():
    return make_agent()


@pytest.fixture
def inbox(member):
    return make_inbox(members=(member,))


def test_a_member_gets_the_stored_bytes_inline_with_their_type(client, member, inbox):
    attachment = attachment_in(inbox)
    client.force_login(member)

    response = client.get(url_of(attachment))

    assert url_of(attachment) == f"/media/dm/{attachment.pk}/"
    assert response.status_code == 200 and body(response) == DATA
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    assert "sandbox" in response["Content-Security-Policy"]


def test_an_agent_of_another_inbox_gets_the_same_404_as_for_no_attachment(client, inbox):
    attachment = attachment_in(inbox)
    outsider = make_agent()
    make_inbox(members=(outsider,))
    client.force_login(outsider)

    refused = client.get(url_of(attachment))
    missing = client.get(url_of(attachment.pk + 1000))

    assert refused.status_code == missing.status_code == 404
    assert refused.content == missing.content and DATA not in refused.content


def test_team_members_and_admins_may_see_it(client, inbox):
    attachment = attachment_in(inbox)
    teammate = make_agent()
    inbox.teams.add(make_team(members=(teammate,)))

    for user in (teammate, make_agent(role=User.Role.ADMIN)):
        client.force_login(user)
        assert client.get(url_of(attachment)).status_code == 200


def test_anonymous_visitors_are_sent_to_the_login_page(client, inbox):
    attachment = attachment_in(inbox)

    response = client.get(url_of(attachment))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url_of(attachment)}"


def test_an_attachment_not_stored_yet_is_a_404_that_says_so(client, member, inbox):
    waiting = attachment_in(inbox, stored=False)
    failed = attachment_in(inbox, stored=False, download_error="X did not hand over the file: 403 Forbidden")
    client.force_login(member)

    response = client.get(url_of(waiting))
    failed_response = client.get(url_of(failed))

    assert response.status_code == 404 and b"not stored here yet" in response.content
    assert b"still being copied from X" in response.content
    assert failed_response.status_code == 404 and b"403 Forbidden" in failed_response.content


def test_a_byte_range_is_served_for_video_players(client, member, inbox):
    attachment = attachment_in(inbox)
    client.force_login(member)

    part = client.get(url_of(attachment), headers={"Range": "bytes=1-4"})
    tail = client.get(url_of(attachment), headers={"Range": "bytes=-3"})
    beyond = client.get(url_of(attachment), headers={"Range": f"bytes={len(DATA)}-"})

    assert part.status_code == 206 and body(part) == DATA[1:5]
    assert part["Content-Range"] == f"bytes 1-4/{len(DATA)}" and part["Content-Type"] == "image/png"
    assert tail.status_code == 206 and body(tail) == DATA[-3:]
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(DATA)}"


def test_only_reading_is_allowed(client, member, inbox):
    attachment = attachment_in(inbox)
    client.force_login(member)

    assert client.post(url_of(attachment)).status_code == 405
