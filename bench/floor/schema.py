"""The floor's tables (a measuring reference, not product code; see ``bench/floor/__init__.py``)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

NOTIFY_CHANNEL = "floor_deliveries"

SCHEMA = """
DROP TABLE IF EXISTS floor_messages;
DROP TABLE IF EXISTS floor_deliveries;
CREATE TABLE floor_deliveries (
    id bigserial PRIMARY KEY,
    body text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE INDEX floor_deliveries_waiting ON floor_deliveries (id) WHERE processed_at IS NULL;
CREATE TABLE floor_messages (
    x_event_id bigint PRIMARY KEY,
    inbox_x_id bigint NOT NULL,
    customer_x_id bigint NOT NULL,
    text text NOT NULL,
    sent_at timestamptz NOT NULL,
    delivery_id bigint NOT NULL
);
"""


def recreate(database_url: str) -> None:
    """Create the database of ``database_url`` if it is missing, and the floor's tables in it, empty."""
    import psycopg

    url = urlsplit(database_url)
    name = url.path.lstrip("/")
    with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
