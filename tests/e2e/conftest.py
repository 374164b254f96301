"""Browser tests: Debian's Chromium driven by Playwright against a real Daphne serving the ASGI app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import BrowserContext, Page, expect

from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox

if TYPE_CHECKING:  # the live server unpickles this module in a fresh process, before Django is set up
    from accounts.models import User
    from inbox.models import Inbox

# Sync Playwright keeps an event loop running in the test thread; Django's ORM is still used
# synchronously there by the tests themselves.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail(f"Chromium not found at {path}; `make test` installs Debian's chromium package.")
    return path


# Playwright's expect() waits 5 s by default; a loaded machine (CI, a CPU hog beside the suite) may need more
# to render a page. These are deadlines for what must happen, never a measure of how fast it was.
expect.set_options(timeout=15_000)


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


SCREENSHOTS = Path(
    os.environ.get("BACKCHANNEL_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
)


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """Save a screenshot of a page as a test artifact (under artifacts/, never committed)."""

    def save(page: Page, name: str, *, full_page: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


@pytest.fixture
def x_env(sandbox: Sandbox, settings, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Backchannel pointed at the sandbox: the live server (a spawned process) reads the environment, as
    `make run` sets it; this process (which connects the account and registers the webhook) its settings."""
    app = sandbox.control("GET", "app")
    values = {
        "X_API_BASE_URL": sandbox.base_url,
        "X_AUTHORIZE_URL": f"{sandbox.base_url}/i/oauth2/authorize",
        "X_CLIENT_ID": app["client_id"],
        "X_CLIENT_SECRET": app["client_secret"],
        "X_BEARER_TOKEN": app["bearer_token"],
        "X_CONSUMER_SECRET": app["consumer_secret"],
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
        setattr(settings, name, value)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return sandbox


@dataclass
class LiveX:
    """A live Backchannel whose @AcmeSupport is connected to the sandbox and receives its webhooks."""

    sandbox: Sandbox
    url: str
    inbox: Inbox

    def customer_writes(self, text: str, *, customer: str = CUSTOMER_ID, stored: bool = True) -> dict:
        """The customer sends a DM in the sandbox; with ``stored``, wait until its webhook was ingested here."""
        from inbox.models import Message

        sent = self.sandbox.control("POST", f"users/{customer}/messages", {"to": BUSINESS_ID, "text": text})
        deadline = time.monotonic() + 15
        while stored and not Message.objects.filter(x_event_id=sent["dm_event_id"]).exists():
            assert time.monotonic() < deadline, f"the webhook never brought {text!r}"
            time.sleep(0.05)
        return sent

    def customer(self, *, username: str, name: str, **profile: object) -> str:
        return self.sandbox.control("POST", "users", {"username": username, "name": name, **profile})["id"]

    def login(self, context: BrowserContext, user: User) -> Page:
        """A browser tab logged in as ``user`` (the login form itself is tested in test_quickstart)."""
        from django.test import Client

        client = Client()
        client.force_login(user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": self.url}])
        page = context.new_page()
        page.on("dialog", lambda dialog: pytest.fail(f"unexpected dialog: {dialog.message}"))
        return page


@pytest.fixture
def x_live(x_env: Sandbox, live_server_url: str) -> LiveX:
    from tests.twitter_channel.connection.test_tokens import connect_through_sandbox
    from twitter_channel.x.client import StaticUserAuth, XClient

    account = connect_through_sandbox(x_env)
    webhook = XClient(app_bearer=django_settings.X_BEARER_TOKEN).webhook_create(f"{live_server_url}/twitter/webhook/")
    assert webhook.webhook.valid, "the sandbox's CRC against the live server failed"
    assert XClient(user_auth=StaticUserAuth(account.access_token)).subscription_create(webhook.webhook.id).subscribed
    return LiveX(sandbox=x_env, url=live_server_url, inbox=account.inbox)


@pytest.fixture
def queued_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live server enqueues tasks on Redis instead of running them inline (ask for it before x_live)."""
    monkeypatch.setenv("BACKCHANNEL_TEST_CELERY_EAGER", "0")


@pytest.fixture
def celery_worker_process(queued_tasks: None, x_live: LiveX, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A real Celery worker process (queues default and send) on the test database, Redis and the sandbox."""
    import redis
    from django.db import connection

    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
        "BACKCHANNEL_TEST_CELERY_EAGER": "0",
    }
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete("default", "send")
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,send", "--pool", "solo",
         "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while b"ready." not in log.read_bytes():
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.1)
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(15)
