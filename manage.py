#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["runsandbox"]:
        # The X sandbox is a program of its own with its own settings (twitter_channel/sandbox/settings.py):
        # it needs none of the project's (not even DJANGO_SECRET_KEY), so it starts before they load.
        from twitter_channel.sandbox.__main__ import run

        run(sys.argv[2:])
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
