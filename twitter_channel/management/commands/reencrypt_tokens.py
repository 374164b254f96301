"""Re-encrypt every stored X token with the newest TOKEN_ENCRYPTION_KEY (the first in the list)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from twitter_channel.connection.tokens import tokens_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt stored X tokens with the first TOKEN_ENCRYPTION_KEY, so older keys can be removed."

    def handle(self, *args: Any, **options: Any) -> None:
        count = tokens_reencrypt()
        self.stdout.write(f"Re-encrypted the tokens of {count} X account(s) with the newest key.")
