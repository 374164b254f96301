"""Settings come from the environment; each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_SECRET = "k3J9-production-secret-that-is-long-and-random-enough-0aQz7#Lw2"
PRODUCTION_TOKEN_KEY = "cHJvZHVjdGlvbi10b2tlbi1rZXktZm9yLXRlc3RzISE="
PROBE = (
    "import django, json; from django.conf import settings as s; django.setup(); print(json.dumps({"
    "'debug': s.DEBUG, 'engine': s.DATABASES['default']['ENGINE'], 'db_name': s.DATABASES['default']['NAME'],"
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'eager': s.CELERY_TASK_ALWAYS_EAGER,"
    "'broker': s.CELERY_BROKER_URL, 'cache': s.CACHES['default']['BACKEND']}))"
)


def run(code: str | None, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "TOKEN_ENCRYPTION_KEY", "X_", "OAUTHLIB_"))
    }
    command = [sys.executable, "-c", code] if code else [sys.executable, "manage.py", *args]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_nothing_set_is_the_quick_start_with_debug_on_request():
    result = run(PROBE, {"DJANGO_DEBUG": "1"})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "debug": True,
        "engine": "django.db.backends.sqlite3",
        "db_name": str(ROOT / "db.sqlite3"),
        "layer": "channels.layers.InMemoryChannelLayer",
        "eager": True,
        "broker": "memory://",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
    }


def test_database_and_redis_urls_switch_to_postgresql_and_redis():
    result = run(
        PROBE,
        {
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": "postgres://app:pw@db.internal:5432/backchannel",
            "REDIS_URL": "redis://cache.internal:6379/0",
        },
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "debug": True,
        "engine": "django.db.backends.postgresql",
        "db_name": "backchannel",
        "layer": "channels_redis.core.RedisChannelLayer",
        "eager": False,
        "broker": "redis://cache.internal:6379/0",
        "cache": "django.core.cache.backends.redis.RedisCache",
    }


@pytest.mark.parametrize("debug", ["", "0", "false"])
def test_debug_is_off_unless_asked_and_then_the_development_key_is_refused(debug):
    env = {"DJANGO_DEBUG": debug} if debug else {}

    result = run(PROBE, env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set and DEBUG is off" in result.stderr


def test_debug_is_off_with_a_real_secret():
    result = run(PROBE, {"DJANGO_SECRET_KEY": PRODUCTION_SECRET})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False


def test_deploy_checks_pass_with_production_values():
    result = run(
        None,
        {
            "DJANGO_SECRET_KEY": PRODUCTION_SECRET,
            "DJANGO_ALLOWED_HOSTS": "support.example.com",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://support.example.com",
            "DATABASE_URL": "postgres://app:pw@db.internal:5432/backchannel",
            "REDIS_URL": "redis://cache.internal:6379/0",
            "TOKEN_ENCRYPTION_KEY": PRODUCTION_TOKEN_KEY,
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "TOKEN_ENCRYPTION_KEY is not set and DEBUG is off"),
        (f"{PRODUCTION_TOKEN_KEY},not-a-key", "TOKEN_ENCRYPTION_KEY: key 2 of 2 is not a Fernet key"),
    ],
)
def test_checks_refuse_a_missing_or_malformed_token_key_with_debug_off(key, message):
    result = run(None, {"DJANGO_SECRET_KEY": PRODUCTION_SECRET, "TOKEN_ENCRYPTION_KEY": key}, "check")

    assert result.returncode != 0
    assert "twitter_channel.E001" in result.stderr and message in result.stderr


def test_the_quick_start_needs_no_token_key():
    result = run(None, {"DJANGO_DEBUG": "1"}, "check")

    assert result.returncode == 0, result.stderr


def test_deploy_checks_fail_when_https_is_switched_off():
    result = run(
        None,
        {"DJANGO_SECRET_KEY": PRODUCTION_SECRET, "DJANGO_HTTPS": "0"},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )

    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_migrations_are_complete():
    result = run(None, {"DJANGO_DEBUG": "1"}, "makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr
