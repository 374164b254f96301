"""The X side of an inbox: the connected account and its OAuth 2.0 tokens (encrypted at rest)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from twitter_channel.crypto import EncryptedAttribute


class XAccount(models.Model):
    """The connection of one inbox to its X account. Conversations stay in the inbox when it is disconnected."""

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        NEEDS_RECONNECTION = "needs_reconnection", "Needs reconnection"
        DISCONNECTED = "disconnected", "Disconnected"

    inbox = models.OneToOneField("inbox.Inbox", on_delete=models.PROTECT, related_name="x_account")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONNECTED)
    status_detail = models.TextField(blank=True, help_text="Why the account needs reconnecting, in X's words.")
    status_changed_at = models.DateTimeField()
    access_token_ciphertext = models.TextField(blank=True, editable=False)
    refresh_token_ciphertext = models.TextField(blank=True, editable=False)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=500, blank=True, help_text="Scopes X granted, space-separated.")
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField()
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "X account"
        ordering = ["inbox__handle"]

    access_token = EncryptedAttribute("access_token_ciphertext")
    refresh_token = EncryptedAttribute("refresh_token_ciphertext")

    def __str__(self) -> str:
        return f"{self.inbox} ({self.get_status_display()})"

    @property
    def is_connected(self) -> bool:
        return self.status == self.Status.CONNECTED
