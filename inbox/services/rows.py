"""Writing many rows' changed columns in one statement, cheaply (the ingest's batches).

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` per column and row through the ORM's
expressions: for one conversation and five columns it cost more Python than the rest of a DM's ingest. On
PostgreSQL ``rows_update`` writes ``UPDATE … SET col = v.col FROM (VALUES …) v WHERE id = v.id`` instead,
with the values prepared by each field as the ORM would; elsewhere (SQLite) it is ``bulk_update``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model


def rows_update(objects: Sequence[Model], field_names: Sequence[str]) -> None:
    """Save ``field_names`` of ``objects`` (all of one model) in one UPDATE; ``auto_now`` is not applied."""
    connection = _db()
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objects, list(field_names))
        return
    meta = model._meta
    fields = [_concrete(meta.get_field(name)) for name in field_names]
    pk = _concrete(meta.pk)
    qn = connection.ops.quote_name
    columns = [pk, *fields]
    rows = [
        [pk.get_db_prep_save(obj.pk, connection)]
        + [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields]
        for obj in objects
    ]
    names = ", ".join(qn(field.column) for field in columns)
    sets = ", ".join(f"{qn(field.column)} = v.{qn(field.column)}" for field in fields)
    if len(rows) > 1 and _unnestable(columns, connection):
        # One array per column (see ``rows_insert``): a short statement alike for any number of rows.
        types = ", ".join(f"%s::{str(field.db_type(connection)).split('(')[0]}[]" for field in columns)
        source = f"unnest({types})"
        params: list[Any] = [list(column) for column in zip(*rows, strict=True)]
    else:
        row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
        source = f"(VALUES {', '.join([row] * len(rows))})"
        params = [value for values in rows for value in values]
    sql = (
        f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM {source} AS v ({names}) "
        f"WHERE t.{qn(pk.column)} = v.{qn(pk.column)}"
    )
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)


def _concrete(field: object) -> Field:
    assert isinstance(field, Field) and field.column, f"{field} is not a column"
    return field


# Raw SELECTs of whole rows for the ingest's hot reads. Each ORM SELECT of a one-DM drain (claim, account,
# contacts, conversations, stored messages) cost about 1.5 ms of Python to compile, a third of the drain's
# CPU; the SQL here is a string built once per model, and the rows become instances through ``Model.from_db``
# with the same converters the ORM applies, so callers get the objects the ORM would have given them.
M = TypeVar("M", bound=Model)
_Converters = list[tuple[int, list[Any], Any]]
_Loader = tuple[list[str], list[str], _Converters]  # quoted column names, attribute names, converters
_loaders: dict[tuple[type[Model], str], _Loader] = {}


def rows_select(model: type[M], where: str, params: Sequence[Any], *, tail: str = "") -> list[M]:
    """Instances of ``model`` from ``SELECT <every column> FROM <its table> t WHERE <where> <tail>``.

    ``where`` and ``tail`` are SQL (``t`` is the table's alias; ``%s`` placeholders, ``in_list`` for lists);
    ``tail`` holds ORDER BY, LIMIT and locking clauses. Deferred fields and relations are not loaded.
    """
    connection = _db()
    _, attnames, converters = _loader(model, connection)
    table = connection.ops.quote_name(model._meta.db_table)
    with hot_cursor(connection) as cursor:
        cursor.execute(f"SELECT {rows_columns(model, 't')} FROM {table} t WHERE {where} {tail}", params)
        rows = cursor.fetchall()
    return [model.from_db(connection.alias, attnames, _converted(row, converters, connection)) for row in rows]


def rows_columns(model: type[Model], alias: str) -> str:
    """The SELECT list of every column of ``model`` from table alias ``alias``, for ``rows_instance``."""
    connection = _db()
    return ", ".join(f"{alias}.{column}" for column in _loader(model, connection)[0])


def rows_instance(model: type[M], row: Sequence[Any]) -> M:
    """An instance of ``model`` from a row read with ``rows_columns``' SELECT list."""
    connection = _db()
    _, attnames, converters = _loader(model, connection)
    return model.from_db(connection.alias, attnames, _converted(row, converters, connection))


def for_update(*, skip_locked: bool = False) -> str:
    """The row-locking clause where the database has one (PostgreSQL); SQLite locks the whole database."""
    connection = _db()
    if not connection.features.has_select_for_update:
        return ""
    return "FOR UPDATE SKIP LOCKED" if skip_locked else "FOR UPDATE"


def in_list(values: Sequence[Any]) -> str:
    """``(%s, %s, …)`` for ``values`` (portable: PostgreSQL and SQLite)."""
    return "(" + ", ".join(["%s"] * len(values)) + ")"


def _converted(row: Sequence[Any], converters: _Converters, connection: BaseDatabaseWrapper) -> list[Any]:
    values = list(row)
    for index, functions, col in converters:
        for function in functions:
            values[index] = function(values[index], col, connection)
    return values


def _loader(model: type[Model], connection: BaseDatabaseWrapper) -> _Loader:
    key = (model, connection.vendor)
    loader = _loaders.get(key)
    if loader is None:
        fields = [_concrete(field) for field in model._meta.concrete_fields]
        qn = connection.ops.quote_name
        columns = [qn(field.column) for field in fields]
        converters: _Converters = []
        for index, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            functions = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if functions:
                converters.append((index, functions, col))
        loader = _loaders[key] = (columns, [field.attname for field in fields], converters)
    return loader


def rows_insert(objects: Sequence[M], *, ignore_conflicts: bool = False, unique_field: str | None = None) -> list[M]:
    """``bulk_create`` for the ingest's hot INSERTs (deliveries, contacts, conversations, messages,
    participants), with the SQL built once per model; returns the objects inserted, their ids set.

    Each value is prepared by its field as the ORM would (``pre_save`` with ``auto_now_add``, then
    ``get_db_prep_save``). With ``ignore_conflicts`` (``ON CONFLICT DO NOTHING``) rows refused are left
    out: named by ``unique_field`` (a unique column the objects differ in), those inserted are returned
    with their ids; without it, none is (rows refused do not say which). Elsewhere than PostgreSQL it is
    ``bulk_create``, and with ``ignore_conflicts`` returns none.
    """
    connection = _db()
    if not objects:
        return []
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(list(objects), ignore_conflicts=ignore_conflicts)
        return [] if ignore_conflicts else list(objects)
    meta = model._meta
    fields = [_concrete(field) for field in meta.concrete_fields if not field.primary_key]
    qn = connection.ops.quote_name
    rows = [[field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields] for obj in objects]
    sql = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(field.column) for field in fields)}) "
    if len(rows) > 1 and _unnestable(fields, connection):
        # One array per column, as Django's bulk_create does: the statement stays short and alike whatever
        # the number of rows, so psycopg converts it once (``VALUES`` with a placeholder per value had psycopg
        # parse a new, long statement per batch: a quarter of a batch's CPU).
        types = ", ".join(f"%s::{str(field.db_type(connection)).split('(')[0]}[]" for field in fields)
        sql += f"SELECT * FROM unnest({types})"
        params: list[Any] = [list(column) for column in zip(*rows, strict=True)]
    else:
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql += f"VALUES {', '.join([row] * len(rows))}"
        params = [value for values in rows for value in values]
    pk_column = qn(_concrete(meta.pk).column)
    with hot_cursor(connection) as cursor:
        if not ignore_conflicts:
            cursor.execute(f"{sql} RETURNING {pk_column}", params)
            inserted = list(zip(objects, [pk for (pk,) in cursor.fetchall()], strict=True))
        elif unique_field is None:
            cursor.execute(sql + " ON CONFLICT DO NOTHING", params)
            return []
        else:
            key = _concrete(meta.get_field(unique_field))
            cursor.execute(f"{sql} ON CONFLICT DO NOTHING RETURNING {pk_column}, {qn(key.column)}", params)
            by_key = {getattr(obj, key.attname): obj for obj in objects}
            inserted = [(by_key[value], pk) for pk, value in cursor.fetchall()]
    for obj, pk in inserted:
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return [obj for obj, _ in inserted]


def _unnestable(fields: list[Field], connection: BaseDatabaseWrapper) -> bool:
    """Whether each column's values can go in one array (Django's own test for its ``UNNEST`` inserts)."""
    return not any(
        hasattr(field, "get_placeholder")
        or getattr(field, "target_field", field).get_internal_type() not in connection.data_types
        for field in fields
    )


@contextmanager
def hot_cursor(connection: BaseDatabaseWrapper | None = None) -> Iterator[Any]:
    """A cursor for the hot path's SQL: on PostgreSQL, bound on the server and prepared once a statement
    repeats (``PREPARE_AFTER``), on the connection Django's cursors use (same transaction, same query log).

    Django's own cursors bind parameters on the client and never prepare (its default, for connection
    poolers that lose prepared statements between transactions): PostgreSQL parsed and planned each of a
    DM's dozen statements anew, most of its CPU for them. The connections here come from the process's own
    pool and keep what they prepared; ``DATABASE_PREPARED_STATEMENTS=0`` turns this off (e.g. behind a
    transaction-pooling PgBouncer without prepared statement support). Where Django logs queries (``DEBUG``,
    a test capturing them) its own cursor is kept, so the log shows each statement with its values (psycopg
    does not say which statement a prepared execution ran).
    """
    connection = connection or _db()
    with connection.cursor() as cursor:
        if (
            connection.vendor == "postgresql"
            and settings.DATABASE_PREPARED_STATEMENTS
            and not connection.queries_logged
        ):
            raw = connection.connection
            if raw.prepare_threshold is None:
                raw.prepare_threshold = PREPARE_AFTER
            cursor.cursor = _server_binding_cursor(raw)
        yield cursor


# How many times a statement of the hot path runs on a connection before it is prepared (psycopg's default).
PREPARE_AFTER = 5


def _server_binding_cursor(raw: Any) -> Any:
    from django.db.backends.postgresql import base as postgresql

    return postgresql.ServerBindingCursor(raw)  # type: ignore[attr-defined]  # defined only with psycopg 3


def _db() -> BaseDatabaseWrapper:
    """The default database's connection itself: ``django.db.connection`` is a proxy that looks it up again
    (through asgiref's context-local storage) on every attribute, a tenth of a one-DM drain's CPU here."""
    return connections[DEFAULT_DB_ALIAS]
