"""Start the X sandbox as its own process, with its own settings and database."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from twitter_channel.sandbox import cli


class Command(BaseCommand):
    help = "Run the local X API sandbox (see README, 'The X sandbox')."

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        argv = [sys.executable, "-m", "twitter_channel.sandbox", *cli.to_argv(options)]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "twitter_channel.sandbox.settings"}
        sys.stdout.flush()
        os.execvpe(sys.executable, argv, env)
