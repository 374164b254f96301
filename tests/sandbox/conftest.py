"""A real sandbox process for the tests in this folder, reset before each test.

The sandbox is black-boxed on purpose: tests speak HTTP to it, as our client and X's real
clients do, and set the world up through its control API (``/sandbox/api/``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "x-fixtures"
BUSINESS_ID = "1500000000000000001"
CUSTOMER_ID = "2244994945"


@dataclass
class Sandbox:
    base_url: str
    process: subprocess.Popen[str]

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.base_url}/sandbox/api/{path}", json=body, timeout=10)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def token(self, user: str = "AcmeSupport", scopes: str | None = None) -> str:
        body: dict[str, Any] = {"user": user}
        if scopes is not None:
            body["scopes"] = scopes
        return self.control("POST", "tokens", body)["access_token"]

    def api(self, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=10, **kwargs)


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    database = tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-m", "twitter_channel.sandbox", "--port", "0", "--db", str(database), "--reset",
         "--time-scale", "0.01"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        process.kill()
        pytest.fail(f"the sandbox did not start: {line}{process.stdout.read()}")
    try:
        yield Sandbox(base_url=match.group(1), process=process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def sandbox(sandbox_process: Sandbox) -> Sandbox:
    sandbox_process.control("POST", "reset")
    return sandbox_process
