"""Whether a row built from what X sent can be stored, asked before anything is written.

Ingest writes a batch of DMs with a few statements; one value the database (or its driver) refuses would
fail them all, and a failure that is not a database error (a lone surrogate makes psycopg raise
``UnicodeEncodeError`` while encoding the statement) would not even be recognised as one event's fault.
So each event's rows are checked first, against the columns they go to: text the driver can encode and
PostgreSQL can keep (no U+0000, no UTF-16 surrogate left on its own: the parsers replace both with
U+FFFD, this is the check that they did), lengths within ``max_length``, integers within the column's
range, JSON of JSON's own values (no NaN or infinity, integers of 64 bits, string keys) holding only such
text. Plain column values are checked, not model instances: building those cost 0.3 ms per DM, a fifth of
what a DM costs in a batch. An event that fails is set aside with the reason given here, before the
batch writes.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from django.db import connection, models

# What PostgreSQL cannot keep in text or jsonb (U+0000) and what cannot be encoded as UTF-8 (a surrogate).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The bounds the X channel's parsers and webhook apply (x.json_fields.MAX_JSON_DEPTH, webhooks): repeated
# here, as the inbox imports nothing of the X channel.
MAX_JSON_DEPTH = 64
_SMALLEST_INTEGER, _LARGEST_INTEGER = -(2**63), 2**64 - 1


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None. Cheap for ASCII, which is most of what X sends."""
    if value.isascii() and "\x00" not in value:
        return None
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return f"contains {_code_point(found.group())} at character {found.start()}"


def json_problem(value: Any) -> str | None:
    """Why ``value`` cannot be stored as jsonb, or None: only JSON's values (finite numbers, integers of 64 bits),
    storable text, string keys, at most ``MAX_JSON_DEPTH`` levels deep. Walked level by level, without recursion."""
    level = [value]
    for _depth in range(MAX_JSON_DEPTH + 1):
        deeper: list[Any] = []
        for item in level:
            if isinstance(item, str):
                problem = text_problem(item)
            elif isinstance(item, dict):
                problem = next((f"a key is {_kind(key)}" for key in item if not isinstance(key, str)), None)
                deeper.extend(item.keys())
                deeper.extend(item.values())
            elif isinstance(item, list | tuple):
                deeper.extend(item)
                problem = None
            else:
                problem = _scalar_problem(item)
            if problem is not None:
                return problem
        if not deeper:
            return None
        level = deeper
    return f"nested deeper than {MAX_JSON_DEPTH} levels"


def columns_problem(model: type[models.Model], columns: Mapping[str, Any]) -> str | None:
    """Why a ``model`` row with these column values (by field name) could not be saved, named as
    ``<model>.<field>: <problem>``, or None. Empty values (None: a default or NULL) are not looked at."""
    checks = _column_checks(model)
    for name, value in columns.items():
        if value is None:
            continue
        max_length, low, high, is_json = checks[name]
        if is_json:
            problem = json_problem(value)
        elif isinstance(value, str) and max_length is not None and len(value) > max_length:
            problem = f"{len(value)} characters, at most {max_length} fit"
        elif isinstance(value, str):
            problem = text_problem(value)
        elif isinstance(value, int) and not isinstance(value, bool) and low is not None and high is not None:
            problem = f"{value} is out of range ({low} to {high})" if not low <= value <= high else None
        else:
            problem = None
        if problem is not None:
            return f"{model._meta.model_name}.{name}: {problem}"
    return None


@functools.cache
def _column_checks(model: type[models.Model]) -> dict[str, tuple[int | None, int | None, int | None, bool]]:
    """Per field name: (max_length, lowest and highest integer, whether it is JSON)."""
    checks = {}
    for field in model._meta.concrete_fields:
        low = high = None
        if isinstance(field, models.IntegerField):
            low, high = connection.ops.integer_field_range(field.get_internal_type())
        checks[field.name] = (field.max_length, low, high, isinstance(field, models.JSONField))
    return checks


def _scalar_problem(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if _SMALLEST_INTEGER <= value <= _LARGEST_INTEGER else f"the integer {value:.3e} is too large"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a JSON number"
    return f"{_kind(value)} is not a JSON value"


def _kind(value: object) -> str:
    return type(value).__name__


def _code_point(character: str) -> str:
    point = ord(character)
    if point == 0:
        return "U+0000"
    return f"an unpaired surrogate U+{point:04X}"
