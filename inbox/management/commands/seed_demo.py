from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inbox.services.demo import demo_seed


class Command(BaseCommand):
    help = "Load the demo inbox, agents and conversations (idempotent) and print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Seed even with DEBUG off (the demo password is public)."
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with a published password; it runs only with DJANGO_DEBUG=1 (or --force)."
            )
        seed = demo_seed()
        self.stdout.write(
            self.style.SUCCESS(f"Demo inbox @{seed.inbox.handle} with {seed.conversations} conversations.")
        )
        self.stdout.write(f"Demo logins (password for all: {seed.password}):")
        for agent in seed.agents:
            self.stdout.write(f"  {agent.get_role_display():<15} {agent.email}")
