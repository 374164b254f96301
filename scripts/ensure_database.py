"""Create the PostgreSQL database ``DATABASE_URL`` names if it does not exist yet (the quick start's).

Connects to the server's ``postgres`` database as the same user. Does nothing for other databases.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql


def main() -> int:
    url = urlsplit(os.environ["DATABASE_URL"])
    if not url.scheme.startswith("postgres"):
        return 0
    name = unquote(url.path.lstrip("/"))
    maintenance = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created the PostgreSQL database {name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
