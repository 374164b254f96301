"""A websocket client as lean as the load generator's HTTP: one asyncio protocol per socket, no task.

The benchmark holds 200 sockets open in the process that also POSTs and keeps the clock; a general
client (``websockets``) spends a task, a queue and several awaits per frame on each. This one parses
frames straight out of ``data_received`` and hands each text frame, with the time its bytes arrived, to
a callback. It speaks what a benchmark needs of RFC 6455: the handshake, unmasked server frames (text,
binary, continuation), an answer to each ping, and the closing handshake; no extensions (none is
offered, so the server compresses nothing).
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable

OnFrame = Callable[[int, bytes, float], None]
OPEN_TIMEOUT = 30.0


class SocketClient(asyncio.Protocol):
    """One websocket: ``opened`` resolves once the server accepted it; ``close_code`` once it closed."""

    def __init__(self, index: int, handshake: bytes, on_frame: OnFrame) -> None:
        self.index = index
        self._handshake = handshake
        self._on_frame = on_frame
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._upgraded = False
        self._close_sent = False
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        transport.write(self._handshake)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        at = time.perf_counter()
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:end]).split(b" ", 2)[1]
            if status != b"101":
                self._fail(ConnectionError(f"websocket refused: HTTP {status.decode()}"))
                return
            del buffer[: end + 4]
            self._upgraded = True
            self.opened.set_result(None)
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, start = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            mask = b""
            if second & 0x80:  # servers do not mask, but a frame that is masked is still read right
                mask, start = bytes(buffer[start : start + 4]), start + 4
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            if mask:
                payload = _masked(payload, mask)
            self._frame(first & 0x80, first & 0x0F, payload, at)

    def _frame(self, fin: int, opcode: int, payload: bytes, at: float) -> None:
        if opcode in (0x0, 0x1, 0x2):
            self._fragments.append(payload)
            if fin:
                frame = self._fragments[0] if len(self._fragments) == 1 else b"".join(self._fragments)
                self._fragments = []
                self._on_frame(self.index, frame, at)
        elif opcode == 0x9:
            self._send(0xA, payload)
        elif opcode == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self._close_sent:
                self._send(0x8, payload[:2])
            assert self.transport is not None
            self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client frame (masked, as RFC 6455 requires of clients); control frames only."""
        if self.transport is None or self.transport.is_closing():
            return
        self._close_sent = self._close_sent or opcode == 0x8
        mask = os.urandom(4)
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + _masked(payload, mask))

    def _fail(self, error: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = 1006
        self._fail(ConnectionError(f"websocket closed before it opened ({exc or 'by the server'})"))
        if not self.closed.done():
            self.closed.set_result(None)

    async def close(self, timeout: float = 5.0) -> None:
        """The closing handshake (1000), or the connection dropped after ``timeout`` seconds."""
        if self.close_code is None and not self._close_sent:
            self._send(0x8, (1000).to_bytes(2, "big"))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


def _masked(payload: bytes, mask: bytes) -> bytes:
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")


def handshake(host: str, port: int, path: str, headers: list[tuple[str, str]]) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def open_socket(
    host: str, port: int, path: str, headers: list[tuple[str, str]], *, index: int, on_frame: OnFrame
) -> SocketClient:
    """A websocket to ``path``, accepted by the server (``ConnectionError`` if it refused)."""
    loop = asyncio.get_running_loop()
    request = handshake(host, port, path, headers)
    _, client = await loop.create_connection(lambda: SocketClient(index, request, on_frame), host, port)
    await asyncio.wait_for(asyncio.shield(client.opened), OPEN_TIMEOUT)
    return client
