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
    last_webhook_at = models.DateTimeField(null=True, blank=True, help_text="Last webhook delivery for it.")
    last_polled_at = models.DateTimeField(null=True, blank=True, help_text="Last successful poll of X.")
    last_poll_error = models.TextField(blank=True)
    poll_resume_at = models.DateTimeField(
        null=True, blank=True, help_text="X's rate limit says: no poll before this time."
    )
    subscribed_at = models.DateTimeField(
        null=True, blank=True, help_text="When X last confirmed the account is subscribed to our webhook."
    )
    subscription_error = models.TextField(blank=True, help_text="Why the last (re)subscription failed.")

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


class WebhookEndpoint(models.Model):
    """Our webhook URL as registered with the X app (``POST /2/webhooks``), and what X last said of it."""

    url = models.URLField(max_length=200, unique=True)
    webhook_id = models.CharField(max_length=20, blank=True, help_text="X's id of the registration.")
    valid = models.BooleanField(null=True, help_text="X's verdict after its last CRC; empty before any.")
    registered_at = models.DateTimeField(null=True, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True, help_text="Last CRC X ran at our request.")
    last_crc_at = models.DateTimeField(null=True, blank=True, help_text="Last CRC this server answered.")
    error = models.TextField(blank=True, help_text="What X answered when registering or validating last failed.")
    error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One signed POST from X, stored raw before anything else happens, then processed by a worker."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    received_at = models.DateTimeField()
    body = models.TextField(help_text="The request body exactly as X sent it (UTF-8).")
    for_user_id = models.CharField(max_length=20, blank=True)
    account = models.ForeignKey(XAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    dm_events = models.PositiveIntegerField(default=0, help_text="DM events the delivery carried.")
    messages_created = models.PositiveIntegerField(default=0)
    detail = models.TextField(blank=True, help_text="What was ignored or rejected, or why processing failed.")

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "received_at"], name="webhook_delivery_status")]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"
