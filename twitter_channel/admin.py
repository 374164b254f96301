"""The Django admin for connected X accounts: read-only but for the account's own DM limits.

Connecting, reconnecting and disconnecting happen under Settings → X accounts; tokens never show here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from twitter_channel.models import XAccount
from twitter_channel.outbound.ratelimit import account_dm_limits_set

_SHOWN: tuple[str, ...] = (
    "inbox", "status", "status_detail", "status_changed_at", "dm_limits", "access_expires_at", "scopes",
    "connected_by", "connected_at", "refreshed_at", "refresh_count", "last_webhook_at", "last_polled_at",
    "last_poll_error", "poll_resume_at", "subscribed_at", "subscription_error",
)  # fmt: skip


@admin.register(XAccount)
class XAccountAdmin(admin.ModelAdmin):
    """Only ``dm_limits`` is editable (through ``account_dm_limits_set``): no other page sets it."""

    list_display = ["inbox", "status", "connected_at", "connected_by", "refreshed_at", "refresh_count"]
    list_filter = ["status"]
    fields = _SHOWN
    readonly_fields = [name for name in _SHOWN if name != "dm_limits"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disconnecting is Settings → X accounts, which also tells X

    def save_model(self, request: HttpRequest, obj: XAccount, form: ModelForm, change: bool) -> None:
        account_dm_limits_set(account=obj, dm_limits=form.cleaned_data["dm_limits"])
