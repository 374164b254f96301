"""Settings for the test suite: the project's settings plus what only tests want.

Backing services come from the environment exactly as in production (`make test` points
DATABASE_URL and REDIS_URL at PostgreSQL and Redis); with neither set the suite runs on the
quick-start defaults.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-" + "x" * 50)
os.environ.setdefault("DJANGO_HTTPS", "0")
os.environ.setdefault("TOKEN_ENCRYPTION_KEY", "dGVzdHMtb25seS10b2tlbi1rZXktMzItYnl0ZXMtISE=")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# Unit tests run tasks inline; tests of worker behaviour start a real Celery worker on Redis
# (tests/celery_worker.py), which runs with BACKCHANNEL_TEST_CELERY_EAGER=0.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("BACKCHANNEL_TEST_CELERY_EAGER", "1") != "0"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
