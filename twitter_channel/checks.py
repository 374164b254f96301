"""System checks for the X channel's configuration."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from twitter_channel.connection import crypto


@register()
def token_encryption_key(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    problem = crypto.key_problem()
    if problem is None:
        return []
    return [Error(problem, id="twitter_channel.E001")]
