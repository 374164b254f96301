"""Browser tests: Debian's Chromium driven by Playwright against a real Daphne serving the ASGI app."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from functools import partial

import pytest

# Sync Playwright keeps an event loop running in the test thread; Django's ORM is still used
# synchronously there by the tests themselves.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail(f"Chromium not found at {path}; `make test` installs Debian's chromium package.")
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


def _use_test_database(name: str) -> None:
    """Runs in the server process (module level so that it pickles under spawn)."""
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = name


@pytest.fixture
def live_server_url(transactional_db) -> Iterator[str]:
    """A Daphne process serving ``config.asgi`` (HTTP, static files and websockets) on the test database."""
    from channels.testing.live import DaphneProcess, make_application
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.db import connection

    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.fail("The live server runs in another process and needs PostgreSQL; run through `make test`.")
    server = DaphneProcess(
        "localhost",
        partial(make_application, static_wrapper=ASGIStaticFilesHandler),
        setup=partial(_use_test_database, connection.settings_dict["NAME"]),
    )
    server.start()
    assert server.ready.wait(30), "Daphne did not start"
    try:
        yield f"http://localhost:{server.port.value}"
    finally:
        server.terminate()
        server.join(10)
