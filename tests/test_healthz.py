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


async def healthz_in_process() -> tuple[int, dict]:
    """``GET /healthz`` through the ASGI application on this event loop, where the sockets live too."""
    import json

    from channels.testing import HttpCommunicator

    from config.asgi import application

    communicator = HttpCommunicator(application, "GET", "/healthz", headers=[(b"host", b"localhost")])
    response = await communicator.get_response(timeout=30)
    return response["status"], json.loads(response["body"])


@pytest.mark.django_db(transaction=True)
async def test_idle_agent_sockets_in_the_same_process_leave_the_answer_200(redis_channel_layer):
    from asgiref.sync import sync_to_async

    from tests.factories import make_agent
    from tests.helpers import inbox_socket, session_cookie

    agent = await sync_to_async(make_agent)()
    cookie = await sync_to_async(session_cookie)(agent)
    sockets = [await inbox_socket(cookie) for _ in range(50)]
    try:
        status, body = await healthz_in_process()
    finally:
        for socket in sockets:
            await socket.disconnect()

    assert status == 200, body
    assert body["checks"]["channel_layer"]["ok"] is True


def layer_on(settings, url: str) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": settings.CHANNEL_LAYER_SOCKET_TIMEOUT}]},
        }
    }
    channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
async def test_the_channel_layers_redis_stopped_answers_503(settings, own_redis, fresh_layers):
    layer_on(settings, own_redis.url)
    assert (await healthz_in_process())[0] == 200

    own_redis.stop()
    status, body = await healthz_in_process()

    assert status == 503
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is False


@pytest.mark.django_db(transaction=True)
async def test_a_frozen_redis_answers_503_instead_of_hanging(settings, own_redis, fresh_layers):
    from config.celery import app

    layer_on(settings, own_redis.url)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    original = app.conf.broker_url
    app.conf.broker_url = own_redis.url
    try:
        assert (await healthz_in_process())[0] == 200

        own_redis.freeze()
        # healthz_in_process waits 30 s at most: a check that hung would fail the test, not stall it
        status, body = await healthz_in_process()
    finally:
        app.conf.broker_url = original

    assert status == 503
    assert body["checks"]["channel_layer"]["ok"] is False
    assert body["checks"]["celery_broker"]["ok"] is False
