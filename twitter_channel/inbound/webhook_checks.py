"""X's webhook security, as pure functions (x-api.md §7.2, §7.3): the CRC answer and the POST signature.

Both are ``"sha256=" + base64(HMAC-SHA256(key=consumer secret, msg))``: over the ``crc_token`` for the
CRC, over the raw request body for a delivery. The key is the app's consumer secret (API secret key),
not the bearer token and not the OAuth 2.0 client secret.

One consequence of X using the same MAC for both: the CRC endpoint signs whatever token it is given,
so an unchecked CRC would sign any forged body for whoever asks. ``crc_token_problem`` therefore
refuses tokens containing ``{``: every body we accept is a JSON object, whose bytes contain ``{``, so
no answered CRC can ever be a valid signature of a deliverable body.

Refusals of a delivery are ``Refused`` with the HTTP status and a message for whoever sent it. A body is
refused unless it is usable JSON (``delivery_json``), decoded more strictly than ``json.loads`` would: the
numbers X sends fit in 64 bits, so longer integers (Python refuses more than 4,300 digits with a plain
``ValueError``), ``NaN``, ``Infinity`` and floats too large to hold (``1e999999``) are refused, as is
nesting deeper than ``MAX_JSON_DEPTH``. The drain reads stored bodies with the same function.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from typing import Any

from twitter_channel.x.json_fields import MAX_JSON_DEPTH

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
SIGNATURE_PREFIX = "sha256="
CONTENT_TYPE = "application/json"
# X's tokens are short (the sandbox's are 43 characters); this only bounds the work done per GET.
CRC_TOKEN_MAX_LENGTH = 1024


class Refused(Exception):
    """A request the endpoint must refuse: ``status``, a short ``code`` and a precise ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


NOT_CONFIGURED = (
    "X_CONSUMER_SECRET is not set on this server, so it can neither answer X's CRC nor check signatures. "
    "Set it to the consumer secret (API secret key) of the X app the webhook is registered with."
)
STORE_FAILED = "The delivery could not be stored right now; send it again."


def not_configured() -> Refused:
    return Refused(503, "not_configured", NOT_CONFIGURED)


def store_failed() -> Refused:
    """A delivery the database could not store: 503 makes X retry (x-api.md §7.4) rather than drop it."""
    return Refused(503, "unavailable", STORE_FAILED)


def refusal_body(refused: Refused) -> dict[str, str]:
    """What every refusal answers: ``{"error": <code>, "detail": <message>}``."""
    return {"error": refused.code, "detail": refused.message}


def check_declared_length(declared: str | None, *, limit: int) -> None:
    """Refuse a Content-Length that is not a number (400) or over ``limit`` (413), before reading the body."""
    if not declared:
        return
    if not declared.strip().isdigit():
        raise Refused(400, "bad_content_length", f"Content-Length is not a number of bytes: {declared!r}.")
    check_length(int(declared), limit=limit)


def check_length(length: int, *, limit: int) -> None:
    """Refuse (413) a body longer than ``limit``; the body is read to ``limit + 1`` bytes at most to know."""
    if length > limit:
        raise Refused(
            413, "too_large", f"The body is larger than this webhook accepts ({limit} bytes, X_WEBHOOK_MAX_BYTES)."
        )


def sign(*, consumer_secret: str, message: bytes) -> str:
    """``sha256=<base64 HMAC-SHA256(consumer_secret, message)>``."""
    digest = hmac.new(consumer_secret.encode("utf-8"), message, hashlib.sha256).digest()
    return SIGNATURE_PREFIX + base64.b64encode(digest).decode("ascii")


def crc_token_problem(crc_token: str | None) -> str | None:
    """Why ``crc_token`` cannot be answered, or None when it can."""
    if crc_token is None:
        return "The crc_token query parameter is missing: X sends GET ?crc_token=<token> to check this webhook."
    if not crc_token:
        return "The crc_token query parameter is empty."
    if len(crc_token) > CRC_TOKEN_MAX_LENGTH:
        return f"The crc_token is longer than {CRC_TOKEN_MAX_LENGTH} characters."
    if "{" in crc_token:
        # See the module docstring: answering would sign a JSON object, i.e. forge a delivery.
        return "The crc_token may not contain '{'."
    return None


def crc_response(*, consumer_secret: str, crc_token: str) -> dict[str, str]:
    """The JSON body answering X's CRC: ``{"response_token": "sha256=..."}``."""
    return {"response_token": sign(consumer_secret=consumer_secret, message=crc_token.encode("utf-8"))}


def signature_is_valid(*, consumer_secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (the header's value) signs exactly ``body``; compared in constant time."""
    expected = sign(consumer_secret=consumer_secret, message=body).encode("ascii")
    try:
        given = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


def delivery_payload(
    *, consumer_secret: str, body: bytes, signature: str | None, content_type: str, charset: str | None
) -> dict[str, Any]:
    """Check a webhook POST whose ``body`` is already within the size limit; return its JSON object.

    Order: signature (403), then content type (415), then the body itself (400), so that nothing about
    the body is looked at before it is known to come from X. Raises ``Refused``.
    """
    if not signature:
        raise Refused(403, "signature_missing", f"The {SIGNATURE_HEADER} header is missing.")
    if not signature_is_valid(consumer_secret=consumer_secret, body=body, signature=signature):
        raise Refused(
            403,
            "signature_invalid",
            f"The {SIGNATURE_HEADER} header does not match the body: it must be "
            "sha256=<base64 HMAC-SHA256 of the raw body, keyed with the app's consumer secret>.",
        )
    if content_type != CONTENT_TYPE:
        given = repr(content_type) if content_type else "missing"
        raise Refused(415, "unsupported_media_type", f"Content-Type must be {CONTENT_TYPE}, not {given}.")
    if charset and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise Refused(415, "unsupported_charset", f"The body must be UTF-8, not {charset!r}.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "not_utf8", f"The body is not valid UTF-8 (byte {exc.start}).") from exc
    return delivery_json(text)


def delivery_json(text: str) -> dict[str, Any]:
    """The JSON object a delivery's body holds, decoded strictly (see the module docstring); raises ``Refused``
    (400) with the precise reason for anything else. The webhook checks each POST with it, and the drain
    reads each stored body with it again."""
    try:
        payload = json.loads(text, parse_int=_integer, parse_float=_finite_float, parse_constant=_no_constant)
    except _Unusable as exc:
        raise Refused(400, "invalid_json", f"The body is not usable JSON: {exc}.") from exc
    except json.JSONDecodeError as exc:
        raise Refused(400, "invalid_json", f"The body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise Refused(400, "invalid_json", _TOO_DEEP) from exc
    if not isinstance(payload, dict):
        raise Refused(400, "not_an_object", f"The body must be a JSON object, not {_json_kind(payload)}.")
    if _depth_over_limit(text, payload):
        raise Refused(400, "invalid_json", _TOO_DEEP)
    return payload


_TOO_DEEP = f"The body is not usable JSON: it is nested too deeply (more than {MAX_JSON_DEPTH} levels)."
# X's numbers are 64-bit: ids as numbers (v1 "id"), counts, indices, sizes.
_SMALLEST_INTEGER, _LARGEST_INTEGER = -(2**63), 2**64 - 1
_MAX_INTEGER_DIGITS = len(str(_LARGEST_INTEGER))


class _Unusable(ValueError):
    """A JSON value this endpoint refuses although ``json.loads`` would take it."""


def _integer(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits <= _MAX_INTEGER_DIGITS:
        value = int(literal)
        if _SMALLEST_INTEGER <= value <= _LARGEST_INTEGER:
            return value
    shown = literal if len(literal) <= 30 else f"{literal[:24]}..."
    raise _Unusable(f"the integer {shown} ({digits} digits) does not fit in 64 bits, as every number X sends does")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        shown = literal if len(literal) <= 30 else f"{literal[:24]}..."
        raise _Unusable(f"the number {shown} is too large to hold")
    return value


def _no_constant(name: str) -> float:
    raise _Unusable(f"{name} is not a JSON number")


def _depth_over_limit(text: str, payload: object) -> bool:
    """Whether ``payload`` nests deeper than ``MAX_JSON_DEPTH``. Cheap for X's bodies: a body with no more
    brackets than the limit cannot be that deep (brackets inside strings only make this count larger)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    level = [payload]  # the containers at one level, from the body's own (level 1) down
    for _level in range(MAX_JSON_DEPTH):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
