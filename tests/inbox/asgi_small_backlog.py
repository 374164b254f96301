"""``config.asgi`` whose sockets may fall only ``BACKLOG`` messages behind (a test server, run by uvicorn):
a client that stops reading overflows its mailbox after a few events instead of two thousand."""

from config.asgi import application  # noqa: F401  (sets Django up first)
from inbox import broadcast

BACKLOG = 10
broadcast.SOCKET_BACKLOG = BACKLOG
