"""Whether a row built from what X sent can be stored, asked before anything is written.

Ingest writes a batch of DMs with a few statements; one value the database (or its driver) refuses would
fail them all, and a failure that is not a database error (a lone surrogate makes psycopg raise
``UnicodeEncodeError`` while encoding the statement) would not even be recognised as one event's fault.
So each event's rows are checked first, against the columns they go to: text the driver can encode and
PostgreSQL can keep (no U+0000, no UTF-16 surrogate left on its own: the parsers replace both with
U+FFFD, this is the check that they did), lengths within ``max_length``, integers within the column's
range, JSON values that serialise as JSON (no NaN or infinity) and hold only such text. An event that
fails is set aside with the reason this module gives, before the batch writes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import connection, models

# What PostgreSQL cannot keep in text or jsonb (U+0000) and what cannot be encoded as UTF-8 (a surrogate).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None. Cheap for ASCII, which is most of what X sends."""
    if value.isascii():
        return "contains U+0000" if "\x00" in value else None
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return f"contains {_code_point(found.group())} at character {found.start()}"


def json_problem(value: Any) -> str | None:
    """Why ``value`` cannot be stored as jsonb, or None: it must serialise as strict JSON and hold storable text."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"not storable as JSON: {exc}"
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                return problem
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return None


def row_problem(row: models.Model) -> str | None:
    """Why ``row`` (not saved yet) could not be saved, named as ``<model>.<field>: <problem>``, or None.

    Foreign keys and empty values (defaults, columns the database fills) are not looked at.
    """
    for field in row._meta.concrete_fields:
        if field.is_relation or field.primary_key:
            continue
        problem = _value_problem(field, getattr(row, field.attname))
        if problem is not None:
            return f"{row._meta.model_name}.{field.name}: {problem}"
    return None


def _value_problem(field: models.Field, value: Any) -> str | None:
    if value is None:  # a default, or a column the database fills (auto_now)
        return None
    if isinstance(field, models.JSONField):
        return json_problem(value)
    if isinstance(value, str):
        if field.max_length is not None and len(value) > field.max_length:
            return f"{len(value)} characters, at most {field.max_length} fit"
        return text_problem(value)
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(field, models.IntegerField):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{value} is out of range ({low} to {high})"
    return None


def _code_point(character: str) -> str:
    point = ord(character)
    if point == 0:
        return "U+0000"
    return f"an unpaired surrogate U+{point:04X}"
