"""Serve the sandbox: a threaded WSGI server (a hung request must not block the others)."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

from twitter_channel.sandbox.faults import RESET_FLAG

SOCKET_KEY = "x_sandbox.socket"
logger = logging.getLogger(__name__)


class RequestHandler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        # WSGI environ values are any objects (django-stubs says dict[str, str]): this one is the socket.
        environ: dict[str, Any] = super().get_environ()
        environ[SOCKET_KEY] = self.connection
        return environ

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        logger.info("%s %s", self.address_string(), format % args)


def _application() -> Callable[..., Iterable[bytes]]:
    django_app = WSGIHandler()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        result = django_app(environ, start_response)
        if environ.get(RESET_FLAG):
            # The "reset" fault: drop the connection with a TCP RST instead of answering.
            connection: socket.socket = environ[SOCKET_KEY]
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.shutdown(socket.SHUT_RDWR)
            return []
        return result

    return application


def serve(host: str, port: int, on_ready: Callable[[int], None]) -> None:
    httpd = ThreadedWSGIServer((host, port), RequestHandler, ipv6=":" in host)
    httpd.daemon_threads = True
    httpd.set_app(_application())
    on_ready(httpd.server_address[1])
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
