"""XClient's media, with ``responses``: waiting while X processes an upload, and downloading DM media with
the account's token (redirects followed, size capped)."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from tests.twitter_channel.x.client_replay import BASE, USER_TOKEN, add, bearer, load, make_client, rsps
from twitter_channel.x.errors import PermanentError, Transient

__all__ = ["rsps"]  # the fixture, from client_replay


# --- media processing and download -------------------------------------------------------------------------


def _upload_until_status(rsps: responses.RequestsMock, *statuses: dict[str, Any]) -> None:
    media_id = "1880028106020515840"
    add(rsps, "POST", "/2/media/upload/initialize", load("v2_media_upload_init_response.docs.json"))
    add(rsps, "POST", f"/2/media/upload/{media_id}/append", status=204, body="")
    add(rsps, "POST", f"/2/media/upload/{media_id}/finalize", load("v2_media_upload_finalize_response.docs.json"))
    for info in statuses:
        add(
            rsps,
            "GET",
            "/2/media/upload",
            {"data": {"id": media_id, "media_key": "7_1880028106020515840", "processing_info": info}},
        )


def test_failed_processing_is_permanent_with_x_reason(rsps):
    _upload_until_status(
        rsps,
        {"state": "in_progress", "check_after_secs": 3, "progress_percent": 40},
        {
            "state": "failed",
            "progress_percent": 40,
            "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"},
        },
    )
    naps: list[float] = []

    with pytest.raises(PermanentError) as caught:
        make_client(sleep=naps.append).media_upload(b"vid", media_type="video/mp4", media_category="dm_video")

    assert naps == [1.0, 3.0]
    assert (caught.value.title, caught.value.detail) == ("InvalidMedia", "Unsupported video format")
    assert "media 1880028106020515840 failed processing" in str(caught.value)


def test_processing_longer_than_max_media_wait_is_transient(rsps):
    _upload_until_status(rsps, {"state": "in_progress", "check_after_secs": 5})
    naps: list[float] = []

    with pytest.raises(Transient, match=r"still in_progress after 6s of waiting"):
        make_client(sleep=naps.append, max_media_wait=10).media_upload(
            b"v", media_type="video/mp4", media_category="dm_video"
        )

    assert naps == [1.0, 5.0]


MEDIA_URL = "https://ton.twitter.com/1.1/ton/data/dm/1585321444547837956/1585321437623029760/abc.jpg"


def test_media_download_sends_the_user_token_and_returns_bytes(rsps):
    rsps.add("GET", MEDIA_URL, body=b"\xff\xd8jpeg-bytes", content_type="image/jpeg")

    content, content_type = make_client().media_download(MEDIA_URL)

    assert (content, content_type) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    assert bearer(rsps.calls[0]) == f"Bearer {USER_TOKEN}" and rsps.calls[0].request.req_kwargs["stream"] is True


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_media_download_stops_over_max_bytes(rsps, declared):
    rsps.add("GET", MEDIA_URL, body=b"x" * 5000, content_type="image/jpeg", auto_calculate_content_length=declared)

    with pytest.raises(PermanentError, match="larger than the 4096 bytes allowed"):
        make_client().media_download(MEDIA_URL, max_bytes=4096)


def test_media_download_of_a_missing_file_is_not_found(rsps):
    rsps.add("GET", MEDIA_URL, status=404, body="")

    with pytest.raises(PermanentError, match=r"GET /1.1/ton/data/dm/.*: 404 Not Found"):
        make_client().media_download(MEDIA_URL)


def test_media_download_from_the_api_host(rsps):
    url = f"{BASE}/2/dm_conversations/media/1585321444547837956/1585321437623029760/1"
    rsps.add("GET", url, body=b"GIF89a", content_type="image/gif")

    assert make_client().media_download(url) == (b"GIF89a", "image/gif")


def test_a_media_redirect_is_followed(rsps):
    cdn = "https://video.twimg.com/dm_gif/1/abc.mp4"
    rsps.add("GET", MEDIA_URL, status=302, headers={"Location": cdn})
    rsps.add("GET", cdn, body=b"mp4", content_type="video/mp4")

    assert make_client().media_download(MEDIA_URL) == (b"mp4", "video/mp4")
    assert [c.request.url for c in rsps.calls] == [MEDIA_URL, cdn]
