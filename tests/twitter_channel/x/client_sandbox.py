"""XClient pointed at the running X sandbox over HTTP, for the test_client_sandbox_* modules (and the media tests).

The sandbox is black-boxed: the world is set up through its control API (``/sandbox/api/``), as in
tests/sandbox/, and everything else goes through the client.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox
from twitter_channel.x.client import StaticUserAuth, XClient

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
ONE_TO_ONE = f"{CUSTOMER_ID}-{BUSINESS_ID}"  # numeric order: 2244994945 < 1500000000000000001


def png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))


@pytest.fixture(autouse=True)
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox speaks plain HTTP on 127.0.0.1


def x_client(sandbox: Sandbox, user: str = "AcmeSupport", **kwargs: Any) -> XClient:
    options: dict[str, Any] = {
        "user_auth": StaticUserAuth(sandbox.token(user)),
        "app_bearer": sandbox.control("GET", "app")["bearer_token"],
        "base_url": sandbox.base_url,
        "timeout": (3.0, 10.0),
    }
    return XClient(**{**options, **kwargs})


@pytest.fixture
def acme(sandbox: Sandbox) -> Iterator[XClient]:
    client = x_client(sandbox)
    yield client
    client.close()


def soon(value: datetime | None, seconds: float) -> bool:
    now = datetime.now(UTC)
    return value is not None and now - timedelta(seconds=5) < value <= now + timedelta(seconds=seconds + 5)
