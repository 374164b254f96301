from __future__ import annotations

import os

import pytest
from channels.layers import channel_layers

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_layers():
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_healthy_services_answer_200(client, fresh_layers):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True


def test_unreachable_channel_layer_answers_503(client, settings, fresh_layers):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is False
    assert "Error" in body["checks"]["channel_layer"]["error"]


@pytest.mark.parametrize(
    "broker_url, status, ok",
    [("redis://127.0.0.1:1/0", 503, False), (os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1", 200, True)],
    ids=["unreachable", "reachable"],
)
def test_configured_broker_is_checked(client, settings, fresh_layers, broker_url, status, ok):
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    original = app.conf.broker_url
    app.conf.broker_url = broker_url
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original

    assert response.status_code == status
    assert response.json()["checks"]["celery_broker"]["ok"] is ok


def test_health_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301
