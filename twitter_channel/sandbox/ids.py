"""Snowflake ids like X's: 64-bit numbers that grow with time, as strings in JSON."""

from __future__ import annotations

import threading

from twitter_channel.sandbox import clock

TWITTER_EPOCH_MS = 1288834974657
_lock = threading.Lock()
_last = 0


def snowflake() -> int:
    global _last
    with _lock:
        value = (int(clock.now().timestamp() * 1000) - TWITTER_EPOCH_MS) << 22
        _last = max(value, _last + 1)
        return _last


def one_to_one_conversation_id(a: str, b: str) -> str:
    """X writes a one-to-one conversation id as ``<low>-<high>``, ordered by numeric value."""
    low, high = sorted((int(a), int(b)))
    return f"{low}-{high}"
