"""``config.asgi`` with presence entries that never expire on their own (a test server, run by uvicorn):
in tests of the socket's cleanup, only that cleanup can remove an entry, so a ghost stays one."""

from config.asgi import application  # noqa: F401  (sets Django up first)
from inbox.services import presence

presence.PRESENCE_TTL = 3600.0
