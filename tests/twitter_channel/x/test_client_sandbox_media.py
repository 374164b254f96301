"""XClient against the real X sandbox over HTTP: chunked uploads, waiting while X processes a GIF, sending and
downloading DM media, and media that is not ours to attach."""

from __future__ import annotations

import pytest

from tests.twitter_channel.x.client_sandbox import GIF, acme, insecure_transport, png, x_client
from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel.x.client import XClient
from twitter_channel.x.errors import PermanentError

__all__ = ["acme", "insecure_transport"]  # the fixtures, from client_sandbox


# --- media ---------------------------------------------------------------------------------------------------


def test_chunked_png_upload_then_send_it_and_download_it(acme: XClient):
    data = png()

    media = acme.media_upload(data, media_type="image/png", media_category="dm_image", chunk_size=20)
    sent = acme.dm_send_to_participant(CUSTOMER_ID, text="Here is your label", media_id=media.media_id)
    (event,) = acme.dm_event(sent.dm_event_id).events
    content, content_type = acme.media_download(event.media[0].url)

    assert media.media_key == f"3_{media.media_id}" and media.size == len(data)
    assert media.processing_state in (None, "succeeded")
    assert 0 < media.expires_after_secs <= 86400
    assert event.media_keys == (media.media_key,)
    assert (event.media[0].type, event.media[0].media_key) == ("photo", media.media_key)
    assert (content, content_type) == (data, "image/png")


def test_gif_upload_waits_while_x_processes_it(sandbox: Sandbox):
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        sandbox.control("POST", "clock", {"seconds": seconds})  # move the sandbox's processing along

    client = x_client(sandbox, sleep=sleep)
    media = client.media_upload(GIF, media_type="image/gif", media_category="dm_gif")
    sent = client.dm_send_to_participant(CUSTOMER_ID, media_id=media.media_id)

    assert naps and sum(naps) >= 3
    assert (media.processing_state, media.media_key) == ("succeeded", f"16_{media.media_id}")
    (event,) = client.dm_event(sent.dm_event_id).events
    assert event.media[0].type == "animated_gif" and event.text == ""


def test_an_inbound_dms_media_downloads_with_the_business_token(sandbox: Sandbox, acme: XClient):
    maria = x_client(sandbox, user="maria_codes")
    data = png()
    uploaded = maria.media_upload(data, media_type="image/png", media_category="dm_image")
    maria.dm_send_to_participant(BUSINESS_ID, text="the broken part", media_id=uploaded.media_id)

    (event,) = acme.participant_events_page(CUSTOMER_ID).events
    content, content_type = acme.media_download(event.media[0].url)

    assert event.sender.username == "maria_codes" and event.media[0].type == "photo"
    assert (content, content_type) == (data, "image/png")
    with pytest.raises(PermanentError, match=f"larger than the {len(data) - 1} bytes allowed"):
        acme.media_download(event.media[0].url, max_bytes=len(data) - 1)


def test_someone_elses_media_cannot_be_attached(sandbox: Sandbox, acme: XClient):
    theirs = x_client(sandbox, user="maria_codes").media_upload(
        png(), media_type="image/png", media_category="dm_image"
    )

    with pytest.raises(PermanentError) as caught:
        acme.dm_send_to_participant(CUSTOMER_ID, media_id=theirs.media_id)

    assert str(caught.value) == (
        f"POST /2/dm_conversations/with/{CUSTOMER_ID}/messages: 403 Forbidden — "
        "You are not permitted to attach this media to a DM event."
    )
