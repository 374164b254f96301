"""A separate worker process that asks for an account's X token, for the refresh-once tests.

Kept free of Django imports at module level: a spawned process imports this module before Django is set up.
"""

from __future__ import annotations

import os
from typing import Any


def call_x_as_account(env: dict[str, str], account_id: int, barrier: Any, results: Any) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from twitter_channel.connection.tokens import access_token_current, client_for

    try:
        barrier.wait(timeout=60)
        username = client_for(account_id).me().user.username
        results.put(("ok", username, access_token_current(account_id=account_id)))
    except Exception as exc:  # reported to the test
        results.put(("error", type(exc).__name__, str(exc)))
