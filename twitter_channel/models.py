"""The X side of an inbox: the connected account and its OAuth 2.0 tokens (encrypted at rest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from twitter_channel.connection.crypto import EncryptedAttribute
from twitter_channel.outbound.rate_windows import dm_limits_validator

if TYPE_CHECKING:
    from datetime import datetime


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
    dm_limits = models.CharField(
        max_length=200,
        blank=True,
        validators=[dm_limits_validator],
        help_text="This account's own limits on DM sends, <seconds>:<limit> pairs such as 900:15,86400:1440 "
        "(today's tiers are lower than the launch figures); empty: X_DM_LIMITS_USER.",
    )

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

    # Not a column: set on the failed deliveries of deliveries_trouble (twitter_channel.inbound.deliveries).
    next_attempt_at: datetime | None

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "received_at"], name="webhook_delivery_status")]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"


class RateBudget(models.Model):
    """One budget of the rate limiter (``ratelimit.py``): an X account's DM sends, or the whole app's.

    Its row is the lock every permit takes (``SELECT … FOR UPDATE``); it also keeps a pause (after a 429)
    and what X last reported in its rate-limit headers.
    """

    key = models.CharField(max_length=80, unique=True, help_text="dm_send:app, or dm_send:user:<X user id>.")
    paused_until = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    x_reported = models.JSONField(
        default=dict, blank=True, help_text="X's headers per family: remaining, limit, reset, and our permit's time."
    )

    def __str__(self) -> str:
        return self.key


class RatePermit(models.Model):
    """One permit granted (one request to X about to be made), counted in every window of its budget."""

    budget = models.ForeignKey(RateBudget, on_delete=models.CASCADE, related_name="permits")
    at = models.DateTimeField()
    ticket = models.CharField(max_length=64, blank=True, help_text="What it was for, e.g. reply:<message id>.")

    class Meta:
        indexes = [models.Index(fields=["budget", "at"], name="rate_permit_budget_at")]


class RateWaiter(models.Model):
    """A request waiting for a permit of an account's budget, in line by ``since``; ``slot`` is its estimate."""

    budget = models.ForeignKey(RateBudget, on_delete=models.CASCADE, related_name="waiters")
    ticket = models.CharField(max_length=64)
    since = models.DateTimeField()
    slot = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["budget", "ticket"], name="rate_waiter_once_per_budget")]


class HandoffLink(models.Model):
    """A "Send a private message" link a social manager put (or will put) in a public reply.

    Its ``ref_code`` travels in the prefilled DM text; a DM carrying it, or arriving through the public
    reply (``initiated_via``) or the link's welcome message, is attributed to the link (``HandoffStart``).
    """

    class Host(models.TextChoices):
        TWITTER = "twitter.com", "twitter.com (the form X documents for the button)"
        X = "x.com", "x.com"

    account = models.ForeignKey(XAccount, on_delete=models.CASCADE, related_name="handoff_links")
    ref_code = models.CharField(max_length=12, unique=True)
    campaign = models.CharField(max_length=100, blank=True)
    post_id = models.CharField(max_length=20, blank=True, help_text="The customer's public post being answered.")
    post_author = models.CharField(max_length=50, blank=True, help_text="Its author's @handle, without the @.")
    reply_post_id = models.CharField(
        max_length=20, blank=True, help_text="Our public reply carrying the link, once posted (X's initiated_via)."
    )
    reply_text = models.TextField(blank=True, help_text="The public reply, without the link.")
    prefill_text = models.TextField(blank=True, help_text="The DM text the customer finds typed, with the code.")
    welcome_message_id = models.CharField(max_length=20, blank=True)
    host = models.CharField(max_length=16, choices=Host.choices, default=Host.TWITTER)
    batch = models.ForeignKey("HandoffBatch", on_delete=models.SET_NULL, null=True, blank=True, related_name="links")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "reply_post_id"], name="handoff_reply_post"),
            models.Index(fields=["account", "post_id"], name="handoff_post"),
            models.Index(fields=["account", "welcome_message_id"], name="handoff_welcome"),
            models.Index(fields=["campaign", "-created_at"], name="handoff_campaign"),
        ]

    def __str__(self) -> str:
        return f"Link {self.ref_code}"


class HandoffStart(models.Model):
    """A conversation a handoff link started: the first DM that carried the link's code or came through it."""

    class MatchedBy(models.TextChoices):
        REF_CODE = "ref_code", "Reference code in the DM"
        POST = "post", "X's initiated_via post"
        WELCOME_MESSAGE = "welcome_message", "The link's welcome message"

    link = models.ForeignKey(HandoffLink, on_delete=models.CASCADE, related_name="starts")
    conversation = models.ForeignKey("inbox.Conversation", on_delete=models.CASCADE, related_name="handoff_starts")
    message = models.ForeignKey("inbox.Message", on_delete=models.CASCADE, related_name="+")
    matched_by = models.CharField(max_length=20, choices=MatchedBy.choices)
    started_at = models.DateTimeField(help_text="When the customer sent that DM (X's time).")

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["link", "conversation"], name="handoff_start_once")]

    def __str__(self) -> str:
        return f"{self.link} started {self.conversation_id}"


class HandoffBatch(models.Model):
    """A bulk generation job: public posts in, one reply with its own link per post out (as CSV)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(XAccount, on_delete=models.CASCADE, related_name="handoff_batches")
    campaign = models.CharField(max_length=100, blank=True)
    reply_template = models.TextField()
    prefill_template = models.TextField(blank=True)
    host = models.CharField(max_length=16, choices=HandoffLink.Host.choices, default=HandoffLink.Host.TWITTER)
    rows = models.JSONField(default=list, help_text="The input rows, then each row's outcome.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Batch {self.pk} ({self.get_status_display()})"
