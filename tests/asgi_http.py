"""A test client for the ASGI application itself (``config.asgi.application``), shaped like Django's ``Client``.

Django's ``Client`` goes through the WSGI handler and ``AsyncClient`` through a handler of its own, so
neither reaches what runs in front of Django under ASGI (``twitter_channel.inbound.webhook_asgi``). Requests are
sent through asgiref's ``ApplicationCommunicator``; the application's thread-sensitive sync code runs in
the calling thread, so it shares the test's database connection and transaction.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator


class AsgiResponse:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        self.status_code = status
        self.headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in headers}
        self.content = content

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def json(self) -> Any:
        return json.loads(self.content)


class AsgiClient:
    def __init__(self, application: Any, *, host: str = "testserver", scheme: str = "http") -> None:
        self.application = application
        self.host = host
        self.scheme = scheme

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        chunks: list[bytes] | None = None,
    ) -> AsgiResponse:
        """``chunks``: send the body in these pieces (``data`` is ignored)."""
        pieces = chunks if chunks is not None else [data]
        header_list = [(b"host", self.host.encode())]
        if content_type:
            header_list.append((b"content-type", content_type.encode("latin-1")))
        if chunks is None:
            header_list.append((b"content-length", str(len(data)).encode()))
        header_list += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method.upper(),
            "scheme": self.scheme,
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": urlencode(query or {}).encode(),
            "headers": header_list,
            "client": ("127.0.0.1", 40000),
            "server": (self.host, 80),
        }
        return async_to_sync(_exchange)(self.application, scope, pieces)

    def get(self, path: str, query: dict[str, str] | None = None, **kwargs: Any) -> AsgiResponse:
        return self.request("GET", path, query=query, **kwargs)

    def post(self, path: str, data: bytes = b"", **kwargs: Any) -> AsgiResponse:
        return self.request("POST", path, data=data, **kwargs)

    def put(self, path: str, data: bytes = b"", **kwargs: Any) -> AsgiResponse:
        return self.request("PUT", path, data=data, **kwargs)

    def patch(self, path: str, data: bytes = b"", **kwargs: Any) -> AsgiResponse:
        return self.request("PATCH", path, data=data, **kwargs)

    def delete(self, path: str, data: bytes = b"", **kwargs: Any) -> AsgiResponse:
        return self.request("DELETE", path, data=data, **kwargs)


async def _exchange(application: Any, scope: dict[str, Any], pieces: list[bytes]) -> AsgiResponse:
    communicator = ApplicationCommunicator(application, scope)
    for n, piece in enumerate(pieces):
        await communicator.send_input({"type": "http.request", "body": piece, "more_body": n < len(pieces) - 1})
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start", start
    content = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        content += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await communicator.wait(timeout=10)
    return AsgiResponse(start["status"], list(start.get("headers", [])), content)
