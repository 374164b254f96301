"""X's error bodies: RFC 7807 problems (``application/problem+json``), as recorded."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

PROBLEM_BASE = "https://api.twitter.com/2/problems/"


class Problem(Exception):
    """Raised by views; ``api_view`` turns it into the response."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("detail") or body.get("title"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def response(problem: Problem) -> JsonResponse:
    resp = JsonResponse(problem.body, status=problem.status, content_type="application/problem+json")
    for name, value in problem.headers.items():
        resp[name] = value
    return resp


def unauthorized() -> Problem:
    return Problem(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})


def forbidden(detail: str = "Forbidden") -> Problem:
    return Problem(403, {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": detail})


def too_many_requests(headers: dict[str, str]) -> Problem:
    body = {"title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests"}
    return Problem(429, body, headers)


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> Problem:
    error: dict[str, Any] = {"message": message}
    if parameters:
        error["parameters"] = parameters
    return Problem(
        400,
        {
            "errors": [error],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEM_BASE + "invalid-request",
        },
    )


def not_found(resource_type: str, value: str, parameter: str) -> Problem:
    return Problem(
        404,
        {
            "errors": [
                {
                    "value": value,
                    "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
                    "title": "Not Found Error",
                    "resource_type": resource_type,
                    "parameter": parameter,
                    "resource_id": value,
                    "type": PROBLEM_BASE + "resource-not-found",
                }
            ],
            "title": "Not Found Error",
            "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
            "type": PROBLEM_BASE + "resource-not-found",
        },
    )


def server_error(status: int) -> Problem:
    titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    title = titles.get(status, "Internal Server Error")
    return Problem(status, {"title": title, "type": "about:blank", "status": status, "detail": title})
