"""XClient's chunked media upload against X's documented and pytwitter's recorded answers, replayed with
``responses``: initialize, append, finalize and the status wait."""

from __future__ import annotations

from responses import matchers

from tests.twitter_channel.x.client_replay import add, load, make_client, query, rsps

__all__ = ["rsps"]  # the fixture, from client_replay


# --- documented examples: media upload ---------------------------------------------------------------------


def test_chunked_upload_with_the_documented_answers(rsps):
    data = bytes(range(256)) * 40  # 10240 bytes -> 3 segments of 4096
    init, final = load("v2_media_upload_init_response.docs.json"), load("v2_media_upload_finalize_response.docs.json")
    done = {"data": {**final["data"], "processing_info": {"state": "succeeded", "progress_percent": 100}}}
    media_id = init["data"]["id"]
    add(
        rsps,
        "POST",
        "/2/media/upload/initialize",
        init,
        match=[
            matchers.json_params_matcher(
                {"media_type": "video/mp4", "total_bytes": 10240, "media_category": "amplify_video"}
            )
        ],
    )
    append = add(rsps, "POST", f"/2/media/upload/{media_id}/append", {"data": {"expires_at": 1737000000}})
    add(rsps, "POST", f"/2/media/upload/{media_id}/finalize", final)
    status = add(rsps, "GET", "/2/media/upload", done)
    naps: list[float] = []

    media = make_client(sleep=naps.append).media_upload(
        data, media_type="video/mp4", media_category="amplify_video", chunk_size=4096
    )

    assert (media.media_id, media.media_key, media.size) == (media_id, "13_1880028106020515840", 1048576)
    assert (media.processing_state, media.expires_after_secs) == ("succeeded", 86400)
    assert naps == [1.0]  # finalize said pending, check_after_secs 1
    assert append.call_count == 3
    sent_segments = [c.request.body for c in rsps.calls if c.request.url.endswith("/append")]
    for index, body in enumerate(sent_segments):
        assert b'name="segment_index"\r\n\r\n' + str(index).encode() in body
        assert data[index * 4096 : (index + 1) * 4096] in body
    assert status.call_count == 1
    assert query(status.calls[0]) == {"command": "STATUS", "media_id": media_id}


def test_pytwitter_upload_finalize_succeeded_needs_no_status(rsps):
    init = load("pytwitter_v2_media_upload_init_response.json")
    media_id = init["data"]["id"]
    add(rsps, "POST", "/2/media/upload/initialize", init)
    add(rsps, "POST", f"/2/media/upload/{media_id}/append", status=204, body="")
    add(rsps, "POST", f"/2/media/upload/{media_id}/finalize", load("pytwitter_v2_media_upload_finalize_response.json"))
    naps: list[float] = []

    media = make_client(sleep=naps.append).media_upload(b"\x00" * 10, media_type="image/png", media_category="dm_image")

    assert (media.media_id, media.media_key, media.size) == ("1912090619981471744", "7_1912090619981471744", 19048761)
    assert (media.processing_state, naps, len(rsps.calls)) == ("succeeded", [], 3)


def test_pytwitter_status_answer_ends_the_wait(rsps):
    final = load("v2_media_upload_finalize_response.docs.json")
    media_id = final["data"]["id"]
    add(rsps, "POST", "/2/media/upload/initialize", load("v2_media_upload_init_response.docs.json"))
    add(rsps, "POST", f"/2/media/upload/{media_id}/append", status=204, body="")
    add(rsps, "POST", f"/2/media/upload/{media_id}/finalize", final)
    add(rsps, "GET", "/2/media/upload", load("pytwitter_v2_media_upload_status_response.json"))

    media = make_client(sleep=lambda s: None).media_upload(b"gif", media_type="image/gif", media_category="dm_gif")

    assert (media.processing_state, media.expires_after_secs, media.raw["processing_info"]["progress_percent"]) == (
        "succeeded",
        83800,
        100,
    )
