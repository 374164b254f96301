"""The sandbox's command-line options, shared by ``python -m twitter_channel.sandbox`` and
``manage.py runsandbox`` (argparse only: importing this loads nothing of the sandbox)."""

from __future__ import annotations

import argparse
from typing import Any


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed).")
    parser.add_argument("--db", help="SQLite file (default: sandbox.sqlite3 in the project folder).")
    parser.add_argument("--reset", action="store_true", help="Start from an empty world.")
    parser.add_argument("--tier", choices=("launch", "current"), help="Rate-limit table (default: launch).")
    parser.add_argument("--time-scale", type=float, help="Multiply webhook retry waits (default 1.0).")


def to_argv(options: dict[str, Any]) -> list[str]:
    """Parsed options back into arguments, to hand them to the sandbox process."""
    argv = ["--host", str(options["host"]), "--port", str(options["port"])]
    for name in ("db", "tier", "time_scale"):
        if options.get(name) is not None:
            argv += [f"--{name.replace('_', '-')}", str(options[name])]
    if options.get("reset"):
        argv.append("--reset")
    return argv
