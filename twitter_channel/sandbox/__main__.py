"""``python -m twitter_channel.sandbox``: what ``python manage.py runsandbox`` runs (manage.py hands it the
arguments before loading the project's settings, which the sandbox does not use)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from twitter_channel.sandbox import cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="runsandbox", description="Run the local X API sandbox.")
    cli.add_options(parser)
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "twitter_channel.sandbox.settings"
    if args.db:
        os.environ["X_SANDBOX_DB"] = str(Path(args.db).resolve())
    if args.tier:
        os.environ["X_SANDBOX_RATE_LIMIT_TIER"] = args.tier
    if args.time_scale is not None:
        os.environ["X_SANDBOX_TIME_SCALE"] = str(args.time_scale)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    database = Path(settings.DATABASES["default"]["NAME"])
    if args.reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    call_command("migrate", verbosity=0)

    from twitter_channel.sandbox import delivery, server, world

    world.seed()
    app = world.default_app()

    def ready(port: int) -> None:
        delivery.set_base_url(f"http://{args.host}:{port}")
        print(f"X sandbox listening on http://{args.host}:{port} (database {database})", flush=True)
        print(f"  OAuth client id {app.client_id}, consumer key {app.consumer_key}", flush=True)

    delivery.start_worker()
    server.serve(args.host, args.port, ready)


def run(argv: list[str]) -> None:
    """``main``, ended quietly by Ctrl-C or SIGTERM (a supervisor stopping it)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        main(argv)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    run(sys.argv[1:])
