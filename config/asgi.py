"""ASGI entry point: Django for HTTP (X's webhook POSTs before it), Channels for the inbox websocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before anything that imports models (the routing below does).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from inbox.routing import websocket_urlpatterns  # noqa: E402
from twitter_channel.inbound.webhook_asgi import WebhookFastPath  # noqa: E402

application = ProtocolTypeRouter(
    {
        # X's webhook POSTs are answered before Django's request cycle (twitter_channel/inbound/webhook_asgi.py).
        "http": WebhookFastPath(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
