"""Static files are served by the app itself (WhiteNoise) both under ASGI, where the chain runs async, and WSGI."""

from __future__ import annotations

from django.test import AsyncClient, Client

from config.static_files import StaticFilesMiddleware

CSS = "/static/css/app.css"


async def test_under_asgi_a_static_file_is_served_and_other_paths_reach_the_views(settings):
    settings.X_CONSUMER_SECRET = "secret"
    client = AsyncClient()

    css = await client.get(CSS)
    page = await client.get("/twitter/webhook/")  # an async view; without a token it answers before any query

    assert css.status_code == 200
    assert css["Content-Type"].startswith("text/css")
    assert b"".join(css.streaming_content).strip()
    assert page.status_code == 400
    assert page.json()["error"] == "bad_crc_token"


def test_under_wsgi_the_same_file_is_served(client: Client):
    response = client.get(CSS)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")


def test_the_middleware_can_sit_in_an_async_chain_so_async_views_stay_on_the_event_loop():
    async def rest_of_the_chain(request):  # noqa: ANN001, ANN202
        return None

    assert StaticFilesMiddleware.async_capable and StaticFilesMiddleware.sync_capable
    from asgiref.sync import iscoroutinefunction

    assert iscoroutinefunction(StaticFilesMiddleware(rest_of_the_chain))
    assert not iscoroutinefunction(StaticFilesMiddleware(lambda request: None))
