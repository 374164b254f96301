"""Injected faults: X misbehaving on purpose, so tests can see how the client copes.

A fault matches requests by method and path prefix and fires for its next ``remaining`` matches
or on ``percent`` of them. ``hang`` sleeps before answering normally (the request may still take
effect after the client gave up); ``reset`` drops the connection without an answer;
``accept_then_fail`` does the work and then answers 503, so the client cannot know it happened.
Webhook faults (delay, duplicate, reorder) are read by the delivery worker.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from twitter_channel.sandbox import problems
from twitter_channel.sandbox.models import Fault

RESET_FLAG = "x_sandbox.reset"
WEBHOOK_KINDS = {Fault.Kind.WEBHOOK_DELAY, Fault.Kind.WEBHOOK_DUPLICATE, Fault.Kind.WEBHOOK_REORDER}


def take(*, method: str, path: str, kinds: set[str] | None = None) -> Fault | None:
    """The fault that fires for this request, if any (its count is used up atomically)."""
    with transaction.atomic():
        candidates = Fault.objects.order_by("pk")
        for fault in candidates:
            if kinds is not None and fault.kind not in kinds:
                continue
            if kinds is None and fault.kind in WEBHOOK_KINDS:
                continue
            if fault.method and fault.method.upper() != method.upper():
                continue
            if fault.path_prefix and not path.startswith(fault.path_prefix):
                continue
            if fault.remaining is not None:
                if fault.remaining <= 1:
                    fault.delete()
                else:
                    Fault.objects.filter(pk=fault.pk).update(remaining=fault.remaining - 1)
                return fault
            if fault.percent is not None and random.random() * 100 < fault.percent:
                return fault
    return None


class FaultInjectionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/sandbox/") or request.path.startswith("/static/"):
            return self.get_response(request)
        fault = take(method=request.method or "GET", path=request.path)
        if fault is None:
            return self.get_response(request)
        if fault.kind in (Fault.Kind.STATUS_429, Fault.Kind.STATUS_500, Fault.Kind.STATUS_503):
            status = int(fault.kind)
            if status == 429:
                reset = str(int(time.time()) + int(fault.seconds or 60))
                return problems.response(problems.too_many_requests(
                    {"x-rate-limit-limit": "0", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
                ))  # fmt: skip
            return problems.response(problems.server_error(status))
        if fault.kind == Fault.Kind.HANG:
            time.sleep(fault.seconds)
            return self.get_response(request)
        if fault.kind == Fault.Kind.RESET:
            request.META[RESET_FLAG] = True
            return HttpResponse(status=500)
        self.get_response(request)  # ACCEPT_THEN_FAIL: the change is made, the answer is lost
        return problems.response(problems.server_error(503))
