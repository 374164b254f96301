"""X's webhook security, as pure functions (x-api.md §7.2, §7.3): the CRC answer and the POST signature.

Both are ``"sha256=" + base64(HMAC-SHA256(key=consumer secret, msg))``: over the ``crc_token`` for the
CRC, over the raw request body for a delivery. The key is the app's consumer secret (API secret key),
not the bearer token and not the OAuth 2.0 client secret.

One consequence of X using the same MAC for both: the CRC endpoint signs whatever token it is given,
so an unchecked CRC would sign any forged body for whoever asks. ``crc_token_problem`` therefore
refuses tokens containing ``{``: every body we accept is a JSON object, whose bytes contain ``{``, so
no answered CRC can ever be a valid signature of a deliverable body.

Refusals of a delivery are ``Refused`` with the HTTP status and a message for whoever sent it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

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
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(400, "invalid_json", f"The body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise Refused(400, "invalid_json", "The body is not usable JSON: it is nested too deeply.") from exc
    if not isinstance(payload, dict):
        raise Refused(400, "not_an_object", f"The body must be a JSON object, not {_json_kind(payload)}.")
    return payload


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
