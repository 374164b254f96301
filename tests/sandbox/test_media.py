"""The sandbox's media upload and DM media download behave, and look, like X's (x-api.md §8, §9.7)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest

from tests.xsandbox import CUSTOMER_ID, Sandbox, fixture_json

OTHER_CUSTOMER = "783214"
NOT_PERMITTED = "You are not permitted to attach this media to a DM event."
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def png() -> bytes:
    """A valid 1x1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what must match X's recorded responses."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


def initialize(sandbox: Sandbox, token: str, data: bytes, mime: str, category: str) -> Any:
    body = {"media_type": mime, "total_bytes": len(data), "media_category": category}
    return sandbox.api("POST", "/2/media/upload/initialize", token, json=body)


def append(sandbox: Sandbox, token: str, media_id: str, index: int, data: bytes) -> Any:
    return sandbox.api(
        "POST", f"/2/media/upload/{media_id}/append", token,
        data={"segment_index": str(index)}, files={"media": ("blob", data, "application/octet-stream")},
    )  # fmt: skip


def upload(sandbox: Sandbox, token: str, data: bytes, mime: str, category: str, segments: int = 2) -> dict:
    """INIT, APPEND in ``segments`` pieces, FINALIZE; the FINALIZE ``data``."""
    media_id = initialize(sandbox, token, data, mime, category).json()["data"]["id"]
    size = -(-len(data) // segments)
    for index in range(segments):
        assert append(sandbox, token, media_id, index, data[index * size : (index + 1) * size]).status_code == 200
    response = sandbox.api("POST", f"/2/media/upload/{media_id}/finalize", token)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def status(sandbox: Sandbox, token: str, media_id: str) -> Any:
    return sandbox.api("GET", f"/2/media/upload?command=STATUS&media_id={media_id}", token)


def attach(sandbox: Sandbox, token: str, media_id: str, to: str = CUSTOMER_ID) -> Any:
    body = {"text": "Here is the label", "attachments": [{"media_id": media_id}]}
    return sandbox.api("POST", f"/2/dm_conversations/with/{to}/messages", token, json=body)


def test_chunked_png_upload_attaches_to_a_dm_and_lists_with_its_media(sandbox: Sandbox):
    token = sandbox.token()
    data = png()

    init = initialize(sandbox, token, data, "image/png", "dm_image")
    media_id = init.json()["data"]["id"]
    appended = [append(sandbox, token, media_id, i, part) for i, part in enumerate((data[:20], data[20:]))]
    final = sandbox.api("POST", f"/2/media/upload/{media_id}/finalize", token)
    sent = attach(sandbox, token, media_id)
    listed = sandbox.api(
        "GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events?dm_event.fields=attachments"
        "&expansions=attachments.media_keys&media.fields=url,type", token,
    ).json()  # fmt: skip

    assert init.status_code == 200 and init.json()["data"]["media_key"] == f"3_{media_id}"
    assert shape(init.json()) == shape(fixture_json("pytwitter_v2_media_upload_init_response.json"))
    assert [r.status_code for r in appended] == [200, 200]
    assert set(appended[0].json()["data"]) == {"expires_at"}
    assert final.json() == {
        "data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data), "expires_after_secs": 86400}
    }
    assert sent.status_code == 201, sent.text
    assert listed["data"][0]["attachments"] == {"media_keys": [f"3_{media_id}"]}
    url = f"{sandbox.base_url}/2/dm_conversations/media/{media_id}"
    assert listed["includes"]["media"] == [{"media_key": f"3_{media_id}", "type": "photo", "url": url}]


def test_finalize_and_status_look_like_x(sandbox: Sandbox):
    token = sandbox.token()
    media_id = upload(sandbox, token, png(), "image/png", "dm_image")["id"]

    body = status(sandbox, token, media_id).json()

    assert shape(body) == shape(fixture_json("pytwitter_v2_media_upload_status_response.json"))
    assert body["data"]["processing_info"] == {"state": "succeeded", "progress_percent": 100}
    final_keys = set(fixture_json("v2_media_upload_finalize_response.docs.json")["data"]) - {"processing_info"}
    assert set(upload(sandbox, token, png(), "image/png", "dm_image")) == final_keys


def test_dm_media_downloads_for_participants_only(sandbox: Sandbox):
    token = sandbox.token()
    data = png()
    media_id = upload(sandbox, token, data, "image/png", "dm_image")["id"]
    event_id = attach(sandbox, token, media_id).json()["data"]["dm_event_id"]
    url = f"/2/dm_conversations/media/{media_id}"

    customer = sandbox.api("GET", url, sandbox.token(CUSTOMER_ID))
    documented_path = sandbox.api("GET", f"/2/dm_conversations/media/{event_id}/{media_id}/label.png",
                                  sandbox.token(CUSTOMER_ID))  # fmt: skip
    owner = sandbox.api("GET", f"{url}/label.png", token)
    stranger = sandbox.api("GET", url, sandbox.token(OTHER_CUSTOMER))
    anonymous = sandbox.api("GET", url, None)

    assert customer.status_code == 200 and customer.content == data
    assert customer.headers["content-type"] == "image/png"
    assert "x-rate-limit-remaining" in customer.headers
    assert documented_path.content == data and owner.content == data
    assert stranger.status_code == 403
    assert stranger.headers["content-type"] == "application/problem+json"
    assert anonymous.status_code == 401


def test_download_of_unknown_media_is_404(sandbox: Sandbox):
    response = sandbox.api("GET", "/2/dm_conversations/media/123456789", sandbox.token())

    assert response.status_code == 404
    assert response.json()["errors"][0]["resource_type"] == "media"


def test_animated_gif_is_processed_as_the_clock_passes(sandbox: Sandbox):
    token = sandbox.token()

    final = upload(sandbox, token, GIF, "image/gif", "dm_gif")
    media_id = final["id"]
    too_early = attach(sandbox, token, media_id)
    pending = status(sandbox, token, media_id).json()["data"]["processing_info"]
    sandbox.control("POST", "clock", {"seconds": pending["check_after_secs"]})
    in_progress = status(sandbox, token, media_id).json()["data"]["processing_info"]
    sandbox.control("POST", "clock", {"seconds": in_progress["check_after_secs"]})
    done = status(sandbox, token, media_id).json()
    sent = attach(sandbox, token, media_id)

    assert final["media_key"] == f"16_{media_id}"
    assert shape(final) == shape(fixture_json("v2_media_upload_finalize_response.docs.json")["data"])
    assert final["processing_info"] == {"state": "pending", "check_after_secs": 1}
    assert too_early.status_code == 400
    assert pending["state"] == "pending" and pending["check_after_secs"] >= 1
    assert in_progress["state"] == "in_progress" and 0 < in_progress["progress_percent"] < 100
    assert done["data"]["processing_info"] == {"state": "succeeded", "progress_percent": 100}
    assert shape(done) == shape(fixture_json("pytwitter_v2_media_upload_status_response.json"))
    assert sent.status_code == 201, sent.text


def test_processing_finishes_without_polling(sandbox: Sandbox):
    token = sandbox.token()
    media_id = upload(sandbox, token, GIF, "image/gif", "dm_gif")["id"]

    sandbox.control("POST", "clock", {"seconds": 10})

    assert attach(sandbox, token, media_id).status_code == 201


def test_media_of_another_user_cannot_be_attached(sandbox: Sandbox):
    media_id = upload(sandbox, sandbox.token(CUSTOMER_ID), png(), "image/png", "dm_image")["id"]

    response = attach(sandbox, sandbox.token(), media_id)

    assert response.status_code == 403
    assert response.json()["detail"] == NOT_PERMITTED


def test_media_older_than_24_hours_cannot_be_attached(sandbox: Sandbox):
    media_id = upload(sandbox, sandbox.token(), png(), "image/png", "dm_image")["id"]
    sandbox.control("POST", "clock", {"seconds": 24 * 60 * 60 + 1})

    response = attach(sandbox, sandbox.token(), media_id)

    assert response.status_code == 403
    assert response.json()["detail"] == NOT_PERMITTED


@pytest.mark.parametrize(
    ("mime", "total_bytes", "category", "parameter"),
    [
        ("image/png", 5 * 1024 * 1024 + 1, "dm_image", "total_bytes"),
        ("image/gif", 15 * 1024 * 1024 + 1, "dm_gif", "total_bytes"),
        ("video/mp4", 512 * 1024 * 1024 + 1, "dm_video", "total_bytes"),
        ("image/png", 0, "dm_image", "total_bytes"),
        ("video/mp4", 1000, "dm_image", "media_type"),
        ("image/png", 1000, "dm_gif", "media_type"),
        ("image/gif", 1000, "dm_video", "media_type"),
        ("image/png", 1000, "dm_sticker", "media_category"),
    ],
)
def test_initialize_refuses_wrong_size_type_or_category(
    sandbox: Sandbox, mime: str, total_bytes: int, category: str, parameter: str
):
    body = {"media_type": mime, "total_bytes": total_bytes, "media_category": category}

    response = sandbox.api("POST", "/2/media/upload/initialize", sandbox.token(), json=body)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert parameter in response.json()["errors"][0]["parameters"]


def test_largest_allowed_sizes_are_accepted(sandbox: Sandbox):
    token = sandbox.token()
    sizes = [("image/jpeg", 5 * 1024 * 1024, "dm_image"), ("image/gif", 15 * 1024 * 1024, "dm_gif"),
             ("video/mp4", 512 * 1024 * 1024, "dm_video")]  # fmt: skip

    keys = [
        sandbox.api("POST", "/2/media/upload/initialize", token,
                    json={"media_type": m, "total_bytes": n, "media_category": c}).json()["data"]["media_key"]
        for m, n, c in sizes
    ]  # fmt: skip

    assert [k.split("_")[0] for k in keys] == ["3", "16", "7"]


def test_finalize_refuses_missing_bytes(sandbox: Sandbox):
    token = sandbox.token()
    data = png()
    media_id = initialize(sandbox, token, data, "image/png", "dm_image").json()["data"]["id"]
    append(sandbox, token, media_id, 0, data[:10])

    response = sandbox.api("POST", f"/2/media/upload/{media_id}/finalize", token)

    assert response.status_code == 400
    assert "size" in response.json()["errors"][0]["message"]


def test_append_checks_segment_index_owner_and_id(sandbox: Sandbox):
    token = sandbox.token()
    media_id = initialize(sandbox, token, png(), "image/png", "dm_image").json()["data"]["id"]

    out_of_range = append(sandbox, token, media_id, 1000, b"x")
    not_owner = append(sandbox, sandbox.token(CUSTOMER_ID), media_id, 0, b"x")
    unknown = append(sandbox, token, "999999", 0, b"x")

    assert [r.status_code for r in (out_of_range, not_owner, unknown)] == [400, 400, 400]
    assert "segment_index" in out_of_range.json()["errors"][0]["parameters"]


def test_upload_needs_media_write_and_counts_against_rate_limits(sandbox: Sandbox):
    no_scope = sandbox.token(scopes="dm.read dm.write tweet.read users.read")
    body = {"media_type": "image/png", "total_bytes": 10, "media_category": "dm_image"}

    refused = sandbox.api("POST", "/2/media/upload/initialize", no_scope, json=body)
    accepted = sandbox.api("POST", "/2/media/upload/initialize", sandbox.token(), json=body)

    assert refused.status_code == 403
    assert accepted.headers["x-rate-limit-limit"] == "1875"


def test_legacy_single_url_commands(sandbox: Sandbox):
    token = sandbox.token()
    data = png()

    init = sandbox.api(
        "POST",
        "/2/media/upload",
        token,
        data={
            "command": "INIT",
            "media_type": "image/png",
            "total_bytes": str(len(data)),
            "media_category": "dm_image",
        },
    )
    media_id = init.json()["data"]["id"]
    appended = [
        sandbox.api(
            "POST",
            "/2/media/upload",
            token,
            data={"command": "APPEND", "media_id": media_id, "segment_index": str(i)},
            files={"media": ("blob", part)},
        )
        for i, part in enumerate((data[:30], data[30:]))
    ]
    final = sandbox.api("POST", "/2/media/upload", token, data={"command": "FINALIZE", "media_id": media_id})
    state = status(sandbox, token, media_id)
    unknown = sandbox.api("POST", "/2/media/upload", token, data={"command": "DELETE", "media_id": media_id})

    assert shape(init.json()) == shape(fixture_json("pytwitter_v2_media_upload_init_response.json"))
    assert [r.status_code for r in appended] == [200, 200]
    assert final.json()["data"]["size"] == len(data)
    assert state.json()["data"]["processing_info"]["state"] == "succeeded"
    assert unknown.status_code == 400
    assert attach(sandbox, token, media_id).status_code == 201


def test_one_shot_upload_of_an_image(sandbox: Sandbox):
    token = sandbox.token()

    response = sandbox.api("POST", "/2/media/upload", token, data={"media_category": "dm_image"},
                           files={"media": ("label.png", png(), "image/png")})  # fmt: skip
    gif = sandbox.api("POST", "/2/media/upload", token, data={"media_category": "dm_gif"},
                      files={"media": ("a.gif", GIF, "image/gif")})  # fmt: skip

    assert response.status_code == 200
    assert response.json()["data"]["media_key"].startswith("3_")
    assert gif.status_code == 400


def test_status_of_unknown_media_is_400(sandbox: Sandbox):
    assert status(sandbox, sandbox.token(), "424242").status_code == 400


def test_processed_gif_is_accepted_by_every_send_path_without_polling(sandbox: Sandbox):
    # the control API sends through the same rules as the X API: a finished GIF is ready there too
    token = sandbox.token()
    media_id = upload(sandbox, token, GIF, "image/gif", "dm_gif")["id"]
    sandbox.control("POST", "clock", {"seconds": 10})

    sent = sandbox.control(
        "POST", "users/AcmeSupport/messages", {"to": CUSTOMER_ID, "text": "a gif", "media_id": media_id}
    )

    assert sent["dm_event_id"].isdigit()
