"""A real sandbox process for tests that speak HTTP to X, reset before each test.

The sandbox is black-boxed on purpose: tests speak HTTP to it, as our client and X's real
clients do, and set the world up through its control API (``/sandbox/api/``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "x-fixtures"
BUSINESS_ID = "1500000000000000001"
CUSTOMER_ID = "2244994945"


@dataclass
class Sandbox:
    base_url: str
    process: subprocess.Popen[bytes]

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


def start_sandbox(folder: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start a sandbox process logging to ``folder/sandbox.log``; return it and its base URL."""
    log_path = folder / "sandbox.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "twitter_channel.sandbox", "--port", "0", "--db", str(folder / "sandbox.sqlite3"),
         "--reset", *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"listening on (http://\S+)", log_path.read_text(errors="replace"))
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"the sandbox did not start:\n{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    process, base_url = start_sandbox(tmp_path_factory.mktemp("sandbox"), "--time-scale", "0.01")
    try:
        yield Sandbox(base_url=base_url, process=process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def sandbox(sandbox_process: Sandbox) -> Sandbox:
    sandbox_process.control("POST", "reset")
    return sandbox_process
