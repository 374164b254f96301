"""Settings of the X sandbox process (not of Backchannel). Every value comes from ``X_SANDBOX_*``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypedDict

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"X_SANDBOX_{name}", default)


DEBUG = _env("DEBUG", "0") == "1"
SECRET_KEY = _env("SECRET_KEY", "x-sandbox-local-only-" + "s" * 40)
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "twitter_channel.sandbox",
]
MIDDLEWARE = [
    "twitter_channel.sandbox.faults.FaultInjectionMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "twitter_channel.sandbox.urls"
APPEND_SLASH = False
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _env("DB", str(PROJECT_DIR / "sandbox.sqlite3")),
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _env("LOG_LEVEL", "WARNING")},
}


class SandboxSettings(TypedDict):
    """The type of ``SANDBOX`` (Django reads only upper-case names, so this class is no setting)."""

    CLIENT_ID: str
    CLIENT_SECRET: str
    CONSUMER_KEY: str
    CONSUMER_SECRET: str
    RATE_LIMIT_TIER: str
    TIME_SCALE: float
    WEBHOOK_TIMEOUT: float


# What the sandbox pretends X is.
SANDBOX: SandboxSettings = {
    # The app Backchannel registers at X: OAuth 2.0 client and consumer key pair.
    "CLIENT_ID": _env("CLIENT_ID", "sandbox-client-id"),
    "CLIENT_SECRET": _env("CLIENT_SECRET", "sandbox-client-secret"),
    "CONSUMER_KEY": _env("CONSUMER_KEY", "sandbox-consumer-key"),
    "CONSUMER_SECRET": _env("CONSUMER_SECRET", "sandbox-consumer-secret"),
    # "launch": the October 2022 figures; "current": today's per-tier table (x-api.md §5).
    "RATE_LIMIT_TIER": _env("RATE_LIMIT_TIER", "launch"),
    # Multiplies every wait of webhook retries (1.0 = X's 3 s / 27 s / 242 s).
    "TIME_SCALE": float(_env("TIME_SCALE", "1.0")),
    # Seconds a webhook has to answer a CRC GET or an event POST (X: 3 s; not scaled).
    "WEBHOOK_TIMEOUT": float(_env("WEBHOOK_TIMEOUT", "3.0")),
}
