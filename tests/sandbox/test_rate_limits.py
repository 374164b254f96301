"""Rate limits per user and per app, with X's headers, its 429 body, and windows that end."""

from __future__ import annotations

import time

import requests

from tests.xsandbox import CUSTOMER_ID, Sandbox, start_sandbox

SEND = f"/2/dm_conversations/with/{CUSTOMER_ID}/messages"


def test_headers_count_down_then_429_until_the_window_ends(sandbox: Sandbox):
    # given a user limit of 3 sends per 15 minutes
    sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "user", "windows": [[900, 3]]})
    token = sandbox.token()

    # when sending four times
    responses = [sandbox.api("POST", SEND, token, json={"text": f"try {i}"}) for i in range(4)]

    # then the headers count down and the fourth is refused with X's body and a future reset
    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    assert [r.headers["x-rate-limit-remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert {r.headers["x-rate-limit-limit"] for r in responses} == {"3"}
    refused = responses[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {"title": "Too Many Requests", "type": "about:blank", "status": 429,
                              "detail": "Too Many Requests"}  # fmt: skip
    reset = int(refused.headers["x-rate-limit-reset"])
    assert reset > time.time() + 800

    # and the refused call was not accepted or counted
    counters = sandbox.control("GET", "counters")
    assert counters["messages_by_sender"] == {"1500000000000000001": 3}
    window = next(w for w in counters["rate_windows"] if w["key"].startswith("user:dm_post:") and
                  w["window_seconds"] == 900)  # fmt: skip
    assert window["count"] == 3

    # when the window has passed, sending works again with a fresh count
    sandbox.control("POST", "clock", {"seconds": 901})
    again = sandbox.api("POST", SEND, sandbox.token(), json={"text": "after the window"})
    assert again.status_code == 201
    assert again.headers["x-rate-limit-remaining"] == "2"


def test_post_carries_the_24_hour_pairs_and_get_its_own_window(sandbox: Sandbox):
    token = sandbox.token()

    post = sandbox.api("POST", SEND, token, json={"text": "hi"})
    get = sandbox.api("GET", "/2/dm_events", token)

    assert post.headers["x-user-limit-24hour-limit"] == "1000"
    assert post.headers["x-user-limit-24hour-remaining"] == "999"
    assert post.headers["x-app-limit-24hour-limit"] == "15000"
    assert (get.headers["x-rate-limit-limit"], get.headers["x-rate-limit-remaining"]) == ("300", "299")
    assert "x-user-limit-24hour-limit" not in get.headers


def test_app_limit_is_shared_by_every_user_of_the_app(sandbox: Sandbox):
    sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "app", "windows": [[86400, 2]]})

    first = sandbox.api("POST", SEND, sandbox.token("AcmeSupport"), json={"text": "1"})
    second = sandbox.api("POST", "/2/dm_conversations/with/1500000000000000001/messages", sandbox.token("kenji_t"),
                         json={"text": "2"})  # fmt: skip
    third = sandbox.api("POST", "/2/dm_conversations/with/1500000000000000001/messages", sandbox.token("tom_h"),
                        json={"text": "3"})  # fmt: skip

    assert [r.status_code for r in (first, second, third)] == [201, 201, 429]
    assert third.headers["x-app-limit-24hour-remaining"] == "0"


def test_users_are_limited_separately(sandbox: Sandbox):
    sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "user", "windows": [[900, 1]]})

    business = [sandbox.api("POST", SEND, sandbox.token(), json={"text": str(i)}).status_code for i in range(2)]
    customer = sandbox.api("POST", "/2/dm_conversations/with/1500000000000000001/messages",
                           sandbox.token("maria_codes"), json={"text": "mine"})  # fmt: skip

    assert business == [201, 429]
    assert customer.status_code == 201


def test_todays_tier_is_a_startup_option(tmp_path):
    process, base = start_sandbox(tmp_path, "--tier", "current")
    try:
        token = requests.post(f"{base}/sandbox/api/tokens", json={"user": "AcmeSupport"}, timeout=10).json()
        response = requests.post(f"{base}{SEND}", json={"text": "hi"}, timeout=10,
                                 headers={"Authorization": f"Bearer {token['access_token']}"})  # fmt: skip
    finally:
        process.terminate()
        process.wait(10)

    assert response.status_code == 201
    assert response.headers["x-rate-limit-limit"] == "15"
    assert response.headers["x-user-limit-24hour-limit"] == "1440"


def test_a_full_day_window_leaves_the_15_minute_headers_describing_their_own_window(sandbox: Sandbox):
    # given 50 sends per 15 minutes but only 2 per day
    sandbox.control("POST", "rate-limits", {"endpoint": "dm_post", "scope": "user", "windows": [[900, 50], [86400, 2]]})
    token = sandbox.token()

    # when the third send of the day is refused
    responses = [sandbox.api("POST", SEND, token, json={"text": f"try {i}"}) for i in range(3)]

    # then x-rate-limit-* still describe the 15-minute window (2 of 50 used, resetting within 15 minutes)
    refused = responses[-1]
    assert [r.status_code for r in responses] == [201, 201, 429]
    assert (refused.headers["x-rate-limit-limit"], refused.headers["x-rate-limit-remaining"]) == ("50", "48")
    assert time.time() < int(refused.headers["x-rate-limit-reset"]) <= time.time() + 901
    # and the 24-hour family says that the day is used up, until tomorrow
    day = {part: refused.headers[f"x-user-limit-24hour-{part}"] for part in ("limit", "remaining")}
    assert day == {"limit": "2", "remaining": "0"}
    assert int(refused.headers["x-user-limit-24hour-reset"]) > time.time() + 23 * 3600


def test_delete_has_its_own_windows(sandbox: Sandbox):
    token = sandbox.token()
    sent = [sandbox.api("POST", SEND, token, json={"text": str(i)}).json()["data"]["dm_event_id"] for i in range(2)]
    sandbox.api("GET", f"/2/dm_events/{sent[0]}", token)

    deleted = sandbox.api("DELETE", f"/2/dm_events/{sent[0]}", token)

    assert deleted.status_code == 200
    headers = {k: v for k, v in deleted.headers.items() if "limit" in k and not k.endswith("reset")}
    assert headers == {
        "x-rate-limit-limit": "300",
        "x-rate-limit-remaining": "299",
        "x-user-limit-24hour-limit": "1500",
        "x-user-limit-24hour-remaining": "1499",
        "x-app-limit-24hour-limit": "4000",
        "x-app-limit-24hour-remaining": "3999",
    }
