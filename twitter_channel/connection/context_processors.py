"""Template context every page needs from the X channel."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from twitter_channel.models import XAccount


def x_account_alerts(request: HttpRequest) -> dict[str, Any]:
    """For admins: the X accounts that need reconnecting (shown as a banner on every page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_admin:
        return {}
    handles = list(
        XAccount.objects.filter(status=XAccount.Status.NEEDS_RECONNECTION).values_list("inbox__handle", flat=True)
    )
    return {"x_accounts_needing_reconnection": handles}
