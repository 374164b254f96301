"""Encryption at rest for X tokens: Fernet keys from ``TOKEN_ENCRYPTION_KEY``, and a model attribute using them.

The setting holds one or more keys, comma-separated, newest first. Values are encrypted with the first key
and decrypted with whichever key matches, so keys can be rotated without downtime (``reencrypt_tokens``).
With ``DEBUG`` on and no key set, a key is derived from ``SECRET_KEY`` so the quick start works; with
``DEBUG`` off a missing key is an error (system check ``twitter_channel.E001`` and at first use).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MISSING_KEY = (
    "TOKEN_ENCRYPTION_KEY is not set and DEBUG is off. Generate one with "
    '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"` '
    "and set it in the environment (README, 'Configuration')."
)


class TokenDecryptionError(Exception):
    """A stored value that none of the configured keys decrypts (a key was dropped too early)."""


def configured_keys() -> list[str]:
    return [key.strip() for key in settings.TOKEN_ENCRYPTION_KEY.split(",") if key.strip()]


def key_problem() -> str | None:
    """Why the configured keys cannot be used, or ``None`` when they can."""
    keys = configured_keys()
    if not keys:
        return None if settings.DEBUG else MISSING_KEY
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            return (
                f"TOKEN_ENCRYPTION_KEY: key {position} of {len(keys)} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)."
            )
    return None


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str, debug: bool) -> MultiFernet:
    if not keys:
        if not debug:
            raise ImproperlyConfigured(MISSING_KEY)
        derived = hashlib.sha256(b"backchannel token encryption (development only)\0" + secret_key.encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(key_problem() or str(exc)) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(configured_keys()), settings.SECRET_KEY, settings.DEBUG)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode("ascii")).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError(
            "A stored X token cannot be decrypted with TOKEN_ENCRYPTION_KEY: was the key that encrypted it removed?"
        ) from exc


def reencrypt(ciphertext: str) -> str:
    """The same value encrypted with the newest key (``MultiFernet.rotate``)."""
    return fernet().rotate(ciphertext.encode("ascii")).decode("ascii")


class EncryptedAttribute:
    """A model attribute whose value is stored encrypted in another (text) field.

    ``access_token = EncryptedAttribute("access_token_ciphertext")`` reads and writes plaintext while the
    column, ``dumpdata`` and database dumps only ever hold the Fernet token. Empty stays empty.
    """

    def __init__(self, ciphertext_field: str) -> None:
        self.ciphertext_field = ciphertext_field

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        ciphertext = getattr(instance, self.ciphertext_field)
        return decrypt(ciphertext) if ciphertext else ""

    def __set__(self, instance: Any, value: str) -> None:
        setattr(instance, self.ciphertext_field, encrypt(value) if value else "")
