"""`python manage.py runsandbox` starts the sandbox as its own process, keeping its database.

Run as the README writes it: from a shell with none of the project's settings (no DJANGO_DEBUG, no
DJANGO_SECRET_KEY), which the sandbox does not need.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.xsandbox import ROOT


def _without_project_settings() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a supervisor stops it; its exit code."""
    process.terminate()
    return process.wait(10)


def run_command(database: Path, log: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runsandbox", "--port", "0", "--db", str(database), *options],
            cwd=ROOT, env=_without_project_settings(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    for _ in range(300):
        match = re.search(r"listening on (http://\S+)", log.read_text())
        if match:
            return process, match.group(1)
        time.sleep(0.05)
    process.kill()
    raise AssertionError(log.read_text())


def test_runsandbox_keeps_its_world_across_restarts_and_reset_clears_it(tmp_path: Path):
    database = tmp_path / "world.sqlite3"
    process, base = run_command(database, tmp_path / "1.log")
    try:
        requests.post(f"{base}/sandbox/api/users", json={"username": "kept", "name": "Kept"}, timeout=10)
    finally:
        assert stop(process) == 0

    process, base = run_command(database, tmp_path / "2.log")
    try:
        after_restart = [u["username"] for u in requests.get(f"{base}/sandbox/api/users", timeout=10).json()]
    finally:
        assert stop(process) == 0

    process, base = run_command(database, tmp_path / "3.log", "--reset")
    try:
        after_reset = [u["username"] for u in requests.get(f"{base}/sandbox/api/users", timeout=10).json()]
    finally:
        assert stop(process) == 0

    assert "kept" in after_restart
    assert "kept" not in after_reset and "AcmeSupport" in after_reset
