"""Start the X sandbox as its own process, with its own settings and database."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the local X API sandbox (see README, 'The X sandbox')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed).")
        parser.add_argument("--db", help="SQLite file (default: sandbox.sqlite3 in the project folder).")
        parser.add_argument("--reset", action="store_true", help="Start from an empty world.")
        parser.add_argument("--tier", choices=("launch", "current"), help="Rate-limit table (default: launch).")
        parser.add_argument("--time-scale", type=float, help="Multiply webhook retry waits (default 1.0).")

    def handle(self, *args: Any, **options: Any) -> None:
        argv = [sys.executable, "-m", "twitter_channel.sandbox", "--host", options["host"], "--port",
                str(options["port"])]  # fmt: skip
        for name in ("db", "tier", "time_scale"):
            if options[name] is not None:
                argv += [f"--{name.replace('_', '-')}", str(options[name])]
        if options["reset"]:
            argv.append("--reset")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "twitter_channel.sandbox.settings"}
        sys.stdout.flush()
        os.execvpe(sys.executable, argv, env)
