"""Separate processes that use the rate limiter, for test_ratelimit_processes.py.

Kept free of Django imports at module level: a spawned process imports this module before Django is set up.
"""

from __future__ import annotations

import os
import time
from typing import Any


def _setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def take_permits(env: dict[str, str], account_id: int, ticket: str, seconds: float, barrier: Any, results: Any) -> None:
    """For ``seconds``, take permits as a send task would: on ``Wait``, sleep until its time, then ask again.

    Puts ``("ok", granted, waits)`` (how many of each) or ``("error", name, text)`` on ``results``.
    """
    try:
        _setup(env)
        from twitter_channel.models import XAccount
        from twitter_channel.outbound import ratelimit

        account = XAccount.objects.select_related("inbox").get(pk=account_id)
        barrier.wait(timeout=60)
        granted = waits = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            answer = ratelimit.permit_take(account=account, ticket=ticket)
            if isinstance(answer, ratelimit.Granted):
                granted += 1
                continue
            waits += 1
            pause = (answer.until - ratelimit._now()).total_seconds()
            time.sleep(min(max(pause, 0.0), max(deadline - time.monotonic(), 0.0)))
        results.put(("ok", granted, waits))
    except Exception as exc:  # reported to the test
        results.put(("error", type(exc).__name__, str(exc)))


def budget_then_permit(env: dict[str, str], account_id: int, results: Any) -> None:
    """A fresh process (a restarted worker): what ``budget`` says, then what ``permit_take`` answers."""
    try:
        _setup(env)
        from twitter_channel.models import XAccount
        from twitter_channel.outbound import ratelimit

        account = XAccount.objects.select_related("inbox").get(pk=account_id)
        seen = ratelimit.budget(account=account)
        answer = ratelimit.permit_take(account=account)
        results.put(("ok", [(w.used, w.limit) for w in seen.windows], type(answer).__name__,
                     getattr(answer, "reason", "")))  # fmt: skip
    except Exception as exc:  # reported to the test
        results.put(("error", type(exc).__name__, str(exc)))
