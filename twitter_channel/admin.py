from django.contrib import admin

from twitter_channel.models import XAccount


@admin.register(XAccount)
class XAccountAdmin(admin.ModelAdmin):
    """Read-only: connecting and disconnecting go through Settings → X accounts (tokens never show here)."""

    list_display = ["inbox", "status", "connected_at", "connected_by", "refreshed_at", "refresh_count"]
    list_filter = ["status"]
    readonly_fields = [
        "inbox", "status", "status_detail", "status_changed_at", "access_expires_at", "scopes",
        "connected_by", "connected_at", "refreshed_at", "refresh_count",
    ]  # fmt: skip

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False
