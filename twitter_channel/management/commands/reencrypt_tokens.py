"""Re-encrypt every stored X token with the newest TOKEN_ENCRYPTION_KEY (the first in the list)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from twitter_channel.connection import crypto
from twitter_channel.models import XAccount


class Command(BaseCommand):
    help = "Re-encrypt stored X tokens with the first TOKEN_ENCRYPTION_KEY, so older keys can be removed."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with transaction.atomic():
            for account in XAccount.objects.select_for_update().order_by("pk"):
                for field in ("access_token_ciphertext", "refresh_token_ciphertext"):
                    if getattr(account, field):
                        setattr(account, field, crypto.reencrypt(getattr(account, field)))
                account.save(update_fields=["access_token_ciphertext", "refresh_token_ciphertext"])
                count += 1
        self.stdout.write(f"Re-encrypted the tokens of {count} X account(s) with the newest key.")
