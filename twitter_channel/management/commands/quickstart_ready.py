"""The quick start's last process (config/Procfile): wait for the app and the X sandbox, connect the demo
account to the sandbox, print what to do next, then stay until the supervisor stops everything."""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from accounts.models import User
from inbox.services.demo import DEMO_AGENTS, DEMO_PASSWORD
from twitter_channel.connection.demo import DEMO_HANDLE, DemoConnectFailed, demo_account_connect

NEXT_STEP = "Open the simulator, pick a customer, send @AcmeSupport a DM — it appears in the agent's inbox."


class Command(BaseCommand):
    help = (
        "Wait for the app and the X sandbox, connect the demo account (tokens, webhook, subscription, "
        "backfill), print the addresses and logins, then wait until stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app-url", required=True, help="Where this app answers, e.g. http://127.0.0.1:8000")
        parser.add_argument("--sandbox-url", default=None, help="The X sandbox (default: X_API_BASE_URL).")
        parser.add_argument("--timeout", type=float, default=180, help="Seconds to wait for both to answer.")
        parser.add_argument("--no-wait", action="store_true", help="Exit once done instead of staying.")

    def handle(self, *args: Any, app_url: str, sandbox_url: str | None, timeout: float, no_wait: bool,
               **options: Any) -> None:  # fmt: skip
        app_url = app_url.rstrip("/")
        sandbox_url = (sandbox_url or settings.X_API_BASE_URL).rstrip("/")
        _wait_for({f"{app_url}/healthz": "the app", f"{sandbox_url}/sandbox/api/health": "the X sandbox"}, timeout)
        webhook_url = settings.X_WEBHOOK_URL or app_url + reverse("x_webhook")
        admin = User.objects.filter(email=DEMO_AGENTS[0][0]).first()
        try:
            connected = demo_account_connect(sandbox_url=sandbox_url, webhook_url=webhook_url, by=admin)
        except DemoConnectFailed as exc:
            raise CommandError(str(exc)) from exc
        importing = "; its DMs of the last 30 days are being imported" if connected.connected_now else ""
        logins = "\n".join(f"    {role.label:<16}{email}" for email, _, role in DEMO_AGENTS)
        self.stdout.write(
            f"\n  Backchannel is ready.\n\n"
            f"  App         {app_url}/\n"
            f"  X sandbox   {sandbox_url}/   (the customer simulator)\n\n"
            f"  Logins (password {DEMO_PASSWORD} for all four, unless you changed yours):\n{logins}\n\n"
            f"  @{DEMO_HANDLE} is connected to the sandbox: webhook {webhook_url} registered, account "
            f"subscribed{importing}.\n\n"
            f"  {NEXT_STEP}\n"
        )
        self.stdout.flush()
        if not no_wait:
            _stay_until_stopped()


def _wait_for(urls: dict[str, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for url, name in urls.items():
        while True:
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise CommandError(f"{name} did not answer at {url} within {timeout:g} s; see its lines above.")
            time.sleep(0.5)


def _stay_until_stopped() -> None:
    """Wait for SIGTERM or Ctrl-C: the supervisor stops every process when one exits, so this one must not."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
