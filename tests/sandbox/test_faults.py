"""Injected faults: the misbehaviours our client must survive, on demand."""

from __future__ import annotations

import time

import pytest
import requests

from tests.xsandbox import CUSTOMER_ID, Sandbox

SEND = f"/2/dm_conversations/with/{CUSTOMER_ID}/messages"


def sent_count(sandbox: Sandbox) -> int:
    return sandbox.control("GET", "counters")["messages_by_sender"].get("1500000000000000001", 0)


@pytest.mark.parametrize("kind", ["500", "503"])
def test_next_n_calls_fail_then_recover(sandbox: Sandbox, kind):
    sandbox.control("POST", "faults", {"kind": kind, "count": 2, "method": "POST", "path": "/2/dm_conversations"})
    token = sandbox.token()

    statuses = [sandbox.api("POST", SEND, token, json={"text": "x"}).status_code for _ in range(3)]

    assert statuses == [int(kind), int(kind), 201]
    assert sent_count(sandbox) == 1
    assert sandbox.control("GET", "faults") == []


def test_injected_429_names_a_reset(sandbox: Sandbox):
    sandbox.control("POST", "faults", {"kind": "429", "count": 1, "seconds": 120})

    response = sandbox.api("GET", "/2/dm_events", sandbox.token())

    assert response.status_code == 429
    assert response.json()["title"] == "Too Many Requests"
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert 100 < int(response.headers["x-rate-limit-reset"]) - time.time() <= 120


def test_faults_match_method_and_path_only(sandbox: Sandbox):
    sandbox.control("POST", "faults", {"kind": "503", "count": 1, "method": "POST", "path": "/2/dm_conversations"})
    token = sandbox.token()

    listed = sandbox.api("GET", "/2/dm_events", token)
    sent = sandbox.api("POST", SEND, token, json={"text": "x"})

    assert (listed.status_code, sent.status_code) == (200, 503)


def test_hang_outlasts_the_client_timeout_and_the_message_still_lands(sandbox: Sandbox):
    sandbox.control("POST", "faults", {"kind": "hang", "count": 1, "seconds": 1.5})

    with pytest.raises(requests.Timeout):
        requests.post(f"{sandbox.base_url}{SEND}", json={"text": "slow"}, timeout=0.5,
                      headers={"Authorization": f"Bearer {sandbox.token()}"})  # fmt: skip

    time.sleep(1.5)
    assert sent_count(sandbox) == 1


def test_reset_drops_the_connection(sandbox: Sandbox):
    sandbox.control("POST", "faults", {"kind": "reset", "count": 1})

    with pytest.raises(requests.ConnectionError):
        sandbox.api("GET", "/2/dm_events", sandbox.token())
    assert sandbox.api("GET", "/2/dm_events", sandbox.token()).status_code == 200


def test_accept_then_fail_sends_but_answers_503(sandbox: Sandbox):
    sandbox.control("POST", "faults", {"kind": "accept_then_fail", "count": 1, "method": "POST"})
    token = sandbox.token()

    response = sandbox.api("POST", SEND, token, json={"text": "did it go?"})

    assert response.status_code == 503
    listed = sandbox.api("GET", f"/2/dm_conversations/with/{CUSTOMER_ID}/dm_events", token).json()
    assert [e["text"] for e in listed["data"]] == ["did it go?"]


def test_percentage_faults(sandbox: Sandbox):
    sandbox.control("POST", "faults", {"kind": "500", "percent": 100, "path": "/2/users/me"})
    token = sandbox.token()

    assert {sandbox.api("GET", "/2/users/me", token).status_code for _ in range(3)} == {500}
    sandbox.control("DELETE", "faults")
    assert sandbox.api("GET", "/2/users/me", token).status_code == 200


def test_bad_fault_requests_are_400(sandbox: Sandbox):
    both = requests.post(f"{sandbox.base_url}/sandbox/api/faults", json={"kind": "500", "count": 1, "percent": 5})
    unknown = requests.post(f"{sandbox.base_url}/sandbox/api/faults", json={"kind": "teapot", "count": 1})

    assert (both.status_code, unknown.status_code) == (400, 400)
    assert "exactly one" in both.json()["error"]
