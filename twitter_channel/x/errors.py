"""The errors ``XClient`` raises, and how an X error answer becomes one. No Django in here.

Callers decide by class: ``RateLimited`` (wait until ``reset_at``), ``Transient`` (retry with backoff),
``AuthError`` (the token is bad: refresh or reconnect), ``PermanentError`` (X said no; retrying is useless).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import requests

from twitter_channel.x.rate_limits import RateLimit

DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=15)
# v1.1 error codes (x-api.md §4): 88 rate limit; 32/89/215 the credentials are invalid or expired.
V1_RATE_LIMITED = {88}
V1_AUTH = {32, 89, 215}
TRANSPORT_ERRORS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class XError(Exception):
    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        title: str = "",
        detail: str = "",
        problem_type: str = "",
        errors: list[dict[str, Any]] | None = None,
        rate_limit: RateLimit | None = None,
        method: str = "",
        url: str = "",
        body: Any = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.problem_type = problem_type
        self.errors = list(errors or [])
        self.rate_limit = rate_limit
        self.method = method
        self.url = url
        self.body = body
        super().__init__(message or describe(method, url, status, title, detail) or type(self).__name__)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields do not survive Exception's default pickling (Celery pickles task errors).
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(cls: type[XError], args: tuple[Any, ...], state: dict[str, Any]) -> XError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class RateLimited(XError):
    def __init__(self, message: str = "", *, reset_at: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        reopens = self.rate_limit.reopens_at() if self.rate_limit is not None else None
        self.reset_at: datetime = reset_at or reopens or datetime.now(UTC) + DEFAULT_RATE_LIMIT_WAIT

    @property
    def seconds_until_reset(self) -> float:
        return max((self.reset_at - datetime.now(UTC)).total_seconds(), 0.0)


class Transient(XError):
    """X did not answer, or answered 5xx, or sent something we cannot read: worth retrying later."""


class MalformedResponse(Transient):
    """A 2xx whose body is not the JSON the endpoint documents."""


class AuthError(XError):
    """401, or a v1.1 invalid/expired-token code: the token was refused."""


class PermanentError(XError):
    """X refused the request (4xx other than 401/429); the same request will fail again."""


class NotFound(PermanentError):
    """404, or a ``resource-not-found`` problem (also in the ``errors`` of a 200)."""


def path_of(url: str) -> str:
    return urlsplit(url).path or url


def describe(method: str, url: str, status: int | None, title: str, detail: str) -> str:
    """``POST /2/dm_conversations/with/1/messages: 403 Forbidden — You are not permitted …``."""
    where = f"{method} {path_of(url)}".strip()
    what = " ".join(part for part in (str(status) if status is not None else "", title) if part)
    if detail and detail != title:
        what = f"{what} — {detail}" if what else detail
    return f"{where}: {what}" if where and what else where or what


def _messages(errors: list[dict[str, Any]]) -> list[str]:
    found = []
    for error in errors:
        text = error.get("message") or error.get("detail") or error.get("title")
        if isinstance(text, str) and text:
            code = error.get("code")
            found.append(f"{text} (code {code})" if isinstance(code, int) else text)
    return found


def _codes(errors: list[dict[str, Any]]) -> set[int]:
    return {e["code"] for e in errors if isinstance(e.get("code"), int) and not isinstance(e.get("code"), bool)}


def _problem(body: Any) -> tuple[str, str, str, list[dict[str, Any]]]:
    """``title, detail, type, errors`` of an RFC 7807 problem or a v1.1 ``{"errors": [...]}`` body."""
    if not isinstance(body, dict):
        text = body.strip() if isinstance(body, str) else ""
        # An HTML error page says nothing useful in one line.
        return "", ("" if text.startswith("<") else text[:300]), "", []
    errors = body.get("errors")
    errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []

    def string(key: str) -> str:
        value = body.get(key)
        return value if isinstance(value, str) else ""

    return string("title"), string("detail"), string("type"), errors


def error_from_answer(*, method: str, url: str, status: int, reason: str, body: Any, rate_limit: RateLimit) -> XError:
    """The error for an X answer: a non-2xx status, or a 200 carrying only ``errors``."""
    title, detail, problem_type, errors = _problem(body)
    if not title and errors and isinstance(errors[0].get("title"), str):
        title = errors[0]["title"]  # a 200 carrying only `errors` (e.g. user not found)
    if not title:
        try:
            title = reason or HTTPStatus(status).phrase
        except ValueError:
            title = reason
    messages = [m for m in _messages(errors) if m not in detail]
    if messages:
        detail = f"{detail} ({'; '.join(messages)})" if detail else "; ".join(messages)
    if not problem_type and len(errors) == 1 and isinstance(errors[0].get("type"), str):
        problem_type = errors[0]["type"]
    fields: dict[str, Any] = dict(status=status, title=title, detail=detail, problem_type=problem_type,
                                  errors=errors, rate_limit=rate_limit, method=method, url=url, body=body)  # fmt: skip
    message = describe(method, url, status, title, detail)
    codes = _codes(errors)
    if status in (420, 429) or codes & V1_RATE_LIMITED:
        return RateLimited(message, **fields)
    if status == 401 or codes & V1_AUTH:
        return AuthError(message, **fields)
    if status >= 500 or status == 408:
        return Transient(message, **fields)
    if status == 404 or problem_type.endswith("/resource-not-found"):
        return NotFound(message, **fields)
    return PermanentError(message, **fields)


def error_from_response(method: str, url: str, response: requests.Response) -> XError:
    """``error_from_answer`` for a non-2xx ``requests`` response (JSON body, or its text)."""
    try:
        text = response.text
    except TRANSPORT_ERRORS:
        text = ""
    try:
        body: Any = response.json() if text.strip() else ""
    except ValueError:
        body = text[:2000]
    return error_from_answer(method=method, url=url, status=response.status_code, reason=response.reason or "",
                             body=body, rate_limit=RateLimit.from_headers(response.headers))  # fmt: skip


def transport_error(method: str, url: str, exc: Exception, timeout: tuple[float, float]) -> Transient:
    """No (whole) answer: timeouts, refused or reset connections, a body that broke off."""
    if isinstance(exc, requests.ConnectTimeout):
        what = f"could not connect within {timeout[0]:g}s"
    elif isinstance(exc, requests.ReadTimeout):
        what = f"no answer within {timeout[1]:g}s"
    elif isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        what = f"the answer broke off: {exc}"
    else:
        what = f"the connection failed: {exc}"
    return Transient(f"{method} {path_of(url)}: {what}", method=method, url=url)


def processing_failed(media_id: str, data: dict[str, Any], *, url: str, rate_limit: RateLimit) -> PermanentError:
    """X gave up processing an upload: its ``processing_info.error`` name and message as title and detail."""
    info = data.get("processing_info")
    error = info.get("error") if isinstance(info, dict) else None
    error = error if isinstance(error, dict) else {}
    title = str(error.get("name") or "Processing failed")
    detail = str(error.get("message") or f"X could not process media {media_id}.")
    return PermanentError(f"GET {path_of(url)}: media {media_id} failed processing: {title} — {detail}", title=title,
                          detail=detail, method="GET", url=url, body=data, rate_limit=rate_limit)  # fmt: skip
