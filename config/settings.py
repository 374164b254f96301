"""Backchannel settings, read from the environment.

``DATABASE_URL`` and ``REDIS_URL`` select PostgreSQL, channels-redis and Celery on Redis, as production and
``make run`` (scripts/run-quickstart.sh) set them. With neither, SQLite, the in-memory channel layer and
Celery tasks run inline: the unit tests' configuration, not a way to run Backchannel.
Every variable read here is listed, with its default, in the README's "Configuration" table.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# GENERAL
# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env.bool("DJANGO_DEBUG", default=False)

DEVELOPMENT_SECRET_KEY = "django-insecure-backchannel-development-key-do-not-use-in-production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set and DEBUG is off. Set DJANGO_SECRET_KEY to a long random value "
        "(see README, 'Configuration'), or set DJANGO_DEBUG=1 for local development."
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en-us"
# Dates and times are written one way everywhere, 24-hour ("8 Dec 2026, 08:27"): config/formats/en/formats.py.
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True

# APPS
# "daphne" first, so `runserver` serves ASGI and websockets.
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "allauth",
    "allauth.account",
    "accounts",
    "inbox",
    "twitter_channel",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.static_files.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.time_zones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "twitter_channel.connection.context_processors.x_account_alerts",
                "inbox.context_processors.list_query",
                "inbox.context_processors.unread_notifications",
                "inbox.context_processors.presence",
            ],
        },
    },
]

# DATABASES
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# PostgreSQL connections come from a pool in each process (psycopg_pool): opening one per request cost a
# webhook POST more than storing it. 0 turns the pool off (one connection per request, as Django does).
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE > 0:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DATABASE_POOL_MAX_SIZE}
# The ingest's hot statements are prepared on each connection once they repeat (inbox/services/rows.py,
# hot_cursor). 0 when connections go through a pooler that does not keep prepared statements.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# REDIS: channel layer, cache and Celery broker. Unset: in-memory layer and tasks inline (unit tests only).
REDIS_URL = env.str("REDIS_URL", default="")
# Seconds any Redis call of the cache, the drain's wake-ups and the Celery broker waits for an answer: a
# Redis that is frozen (not stopped) must not hang a request or a worker for longer than this.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
# A websocket waits for events with BZPOPMIN for 5 s, and redis-py's default socket timeout is also 5 s:
# a reply arriving a moment late killed the agent's socket. The layer's connections wait longer.
CHANNEL_LAYER_SOCKET_TIMEOUT = 30

# CHANNELS
# https://channels.readthedocs.io/en/latest/topics/channel_layers.html
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # capacity: messages waiting per websocket before channels-redis drops new ones. The default 100,
            # and then 2000, were filled by a burst of 3,000 DMs while the web process was busy answering
            # X (bench/ingest.py lost 1,800 events at one agent). A lagging socket costs a few MB of Redis;
            # "expiry" drops what waited 60 s.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT}],
                "prefix": "backchannel",
                "capacity": 20000,
                "expiry": 60,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "backchannel",
            "OPTIONS": {"socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": REDIS_SOCKET_TIMEOUT},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# CELERY
# https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
# Without a broker every task runs inline in the process that enqueued it (after commit, because
# services enqueue with `delay_on_commit`): the unit tests' mode. make run and production run workers.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# No result backend: nothing reads task results, and with one every .delay() built a backend client (per
# request thread under ASGI) and subscribed to a result channel in Redis.
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connections before and after every task, and in prefork workers
# the whole connection pool with them: every task opened a new PostgreSQL connection (a new server process).
# With this it does so only every 2 × 10,000 tasks; config/celery.py returns each task's connection to the
# pool instead, dropping one that broke, as Django does around a request.
CELERY_DB_REUSE_MAX = 10_000
CELERY_TASK_DEFAULT_QUEUE = "default"
# Agents' replies wait on their own queue, so a backlog of webhooks or polls never holds a reply back.
# Every worker consumes both unless replies get workers of their own: `celery -A config worker -Q default,send`.
CELERY_TASK_ROUTES = {"twitter_channel.reply_send": {"queue": "send"}}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis going away must never stop a worker: it reconnects for as long as it takes (the default gives up after
# 100 tries), and within a second or two of Redis coming back (config.celery.PromptReconnectConsumer).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CONSUMER = "config.celery:PromptReconnectConsumer"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": REDIS_SOCKET_TIMEOUT + 3,  # above the 1-s BRPOP a worker waits on
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
}
# A task enqueued while Redis is away fails after one quick retry instead of holding the request: what was
# committed stays, and the sweeps (beat) or the drain's wake-up enqueue it again.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
# Beat: one process in the whole deployment (`celery -A config beat`).
CELERY_BEAT_SCHEDULE = {
    "poll-x-accounts": {"task": "twitter_channel.dm_poll_due", "schedule": 15.0},
    "sweep-webhook-deliveries": {"task": "twitter_channel.webhook_deliveries_sweep", "schedule": 60.0},
    # Replies whose task was lost or whose worker died mid-send (twitter_channel/outbound/reconcile.py).
    "sweep-replies": {"task": "twitter_channel.replies_sweep", "schedule": 30.0},
    # Snoozed conversations whose time has come back to the open queue.
    "wake-snoozed-conversations": {"task": "inbox.snoozes_wake", "schedule": 60.0},
    # Conversations waiting in auto-assigning inboxes, handed to agents who came online or freed capacity.
    "auto-assign-waiting-conversations": {"task": "inbox.auto_assign_all", "schedule": 60.0},
    # Presence stored for agents whose pages' server died without closing their sockets.
    "sweep-agent-presence": {"task": "inbox.agent_status_sweep", "schedule": 60.0},
}

# AUTHENTICATION
# https://docs.allauth.org/en/latest/account/configuration.html
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "inbox:home"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_SESSION_REMEMBER = None
# Login throttling (accounts/throttle.py), on allauth's rate limits: failed logins are counted per IP and
# per account, and a browser that logged into the account before (a signed device cookie) is exempt from
# both, counted on its own. A limit reached refuses logins for the rest of its window, saying how long.
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=20)
LOGIN_FAILURES_PER_DEVICE = env.int("LOGIN_FAILURES_PER_DEVICE", default=10)
LOGIN_DEVICE_COOKIE_DAYS = env.int("LOGIN_DEVICE_COOKIE_DAYS", default=180)
ACCOUNT_RATE_LIMITS = {
    # allauth's own per-IP and per-email "login_failed" is replaced by the three below (accounts/adapters.py).
    "login_failed": None,
    "login_failed_ip": f"{LOGIN_FAILURES_PER_IP}/{LOGIN_FAILURE_WINDOW}s/ip",
    "login_failed_account": f"{LOGIN_FAILURES_PER_ACCOUNT}/{LOGIN_FAILURE_WINDOW}s/key",
    "login_failed_device": f"{LOGIN_FAILURES_PER_DEVICE}/{LOGIN_FAILURE_WINDOW}s/key",
}
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# EMAIL (invitations and password resets): console unless EMAIL_URL is given, e.g. smtp+tls://user:pass@host:587
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Backchannel <backchannel@localhost>")

# STATIC FILES
# https://docs.djangoproject.com/en/5.2/howto/static-files/
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Development and tests serve straight from the source folders; production runs `collectstatic`.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")

# SECURITY
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-ssl-redirect
# DJANGO_HTTPS=1 declares that the site is served over HTTPS (usually behind a proxy that sets
# X-Forwarded-Proto). It defaults to "on" whenever DEBUG is off.
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
if env.bool("DJANGO_BEHIND_PROXY", default=HTTPS):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# X API (twitter_channel). Secrets only from the environment.
# Fernet keys, comma-separated, newest first: tokens are encrypted with the first and decrypted with any
# (key rotation: prepend a new key, run `manage.py reencrypt_tokens`, then drop the old one).
TOKEN_ENCRYPTION_KEY = env.str("TOKEN_ENCRYPTION_KEY", default="")
X_API_BASE_URL = env.str("X_API_BASE_URL", default="https://api.x.com")
X_AUTHORIZE_URL = env.str("X_AUTHORIZE_URL", default="https://x.com/i/oauth2/authorize")
X_CLIENT_ID = env.str("X_CLIENT_ID", default="")
X_CLIENT_SECRET = env.str("X_CLIENT_SECRET", default="")
X_CONSUMER_KEY = env.str("X_CONSUMER_KEY", default="")
X_CONSUMER_SECRET = env.str("X_CONSUMER_SECRET", default="")
# App-only bearer token: webhook registration and Account Activity subscription lists.
X_BEARER_TOKEN = env.str("X_BEARER_TOKEN", default="")
# The OAuth callback registered at X; empty means this site's own /settings/x-accounts/callback/.
X_OAUTH_REDIRECT_URI = env.str("X_OAUTH_REDIRECT_URI", default="")
X_OAUTH_SCOPES = env.list(
    "X_OAUTH_SCOPES", default=["dm.read", "dm.write", "tweet.read", "users.read", "offline.access", "media.write"]
)
# (connect, read) timeouts in seconds for every call to X.
X_CONNECT_TIMEOUT = env.float("X_CONNECT_TIMEOUT", default=3.05)
X_READ_TIMEOUT = env.float("X_READ_TIMEOUT", default=20.0)
# Seconds X may still take, after our client gave up on a DM send, to finish it and show it in the conversation:
# a retry or the replies sweep looks on X for such a send only after it (twitter_channel/outbound/reply_lookup.py).
X_SEND_VISIBILITY_MARGIN = env.float("X_SEND_VISIBILITY_MARGIN", default=45.0)
# Refresh an access token this many seconds before X says it expires.
X_TOKEN_REFRESH_MARGIN = env.int("X_TOKEN_REFRESH_MARGIN", default=300)
# Webhook deliveries larger than this are refused with 413 (X's are a few kilobytes).
X_WEBHOOK_MAX_BYTES = env.int("X_WEBHOOK_MAX_BYTES", default=1024 * 1024)
# Whether this worker's processes ingest webhook deliveries, each with a thread that LISTENs for them and
# drains (twitter_channel/inbound/listener.py); 0 on workers that should only send replies, say.
X_WEBHOOK_INGEST = env.bool("X_WEBHOOK_INGEST", default=True)
# Seconds between polls of GET /2/dm_events per connected account; the poll also waits out X's rate limit.
X_POLL_INTERVAL = env.int("X_POLL_INTERVAL", default=120)
# Our webhook's public URL, as X must call it; empty: this site's /twitter/webhook/ as the request saw it.
X_WEBHOOK_URL = env.str("X_WEBHOOK_URL", default="")
# Seconds without a webhook delivery after which a connected account shows the silence alarm (0: never).
X_WEBHOOK_SILENCE_ALARM = env.int("X_WEBHOOK_SILENCE_ALARM", default=6 * 3600)
# Largest DM media file copied from X into our storage.
X_MEDIA_MAX_BYTES = env.int("X_MEDIA_MAX_BYTES", default=25 * 1024 * 1024)
# Our limits on DM sends (twitter_channel/outbound/ratelimit.py), as <seconds>:<limit> pairs: per X account (each
# account may set lower ones, e.g. today's tiers) and for the whole X app. Defaults: X's launch figures
# (x-api.md §5). Checked when Django starts. Empty: no limit of ours (X's headers are still obeyed).
X_DM_LIMITS_USER = env.str("X_DM_LIMITS_USER", default="900:200,86400:1000")
X_DM_LIMITS_APP = env.str("X_DM_LIMITS_APP", default="86400:15000")
# Seconds each permit counts beyond its window: covers the time from our permit to X receiving the request.
X_DM_LIMIT_MARGIN = env.str("X_DM_LIMIT_MARGIN", default="2")
# Seconds a new reply waits before it is sent, during which its author can undo it (0: off). Tasks run
# inline (unit tests) have no window: see inbox.selectors.replies.undo_seconds.
X_REPLY_UNDO_SECONDS = env.int("X_REPLY_UNDO_SECONDS", default=5)

# PRESENCE: an agent whose inbox pages saw no keyboard, mouse or focus for this many seconds is Away
# (accounts/presence.py, static/js/inbox/idle.js); any activity makes them Online again.
PRESENCE_AWAY_AFTER = env.int("PRESENCE_AWAY_AFTER", default=600)


def _loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


# oauthlib refuses OAuth over plain HTTP. A local X (the sandbox on this machine) is the one exception
# made here; anything else must set OAUTHLIB_INSECURE_TRANSPORT=1 itself.
if _loopback_http(X_API_BASE_URL) and _loopback_http(X_AUTHORIZE_URL):
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

# LOGGING
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # requests-oauthlib and oauthlib log tokens and request bodies at DEBUG: never let those through.
    "loggers": {"requests_oauthlib": {"level": "INFO"}, "oauthlib": {"level": "INFO"}},
}
