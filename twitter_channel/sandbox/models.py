"""The sandbox's world: X users, apps, tokens, DM conversations and events, media, webhooks,
rate-limit windows and injected faults. Ids are strings, as X writes them."""

from __future__ import annotations

from django.db import models


class XUser(models.Model):
    x_id = models.CharField(max_length=20, unique=True)
    username = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=50)
    description = models.CharField(max_length=160, blank=True)
    location = models.CharField(max_length=100, blank=True)
    profile_image_url = models.URLField(max_length=500, blank=True)
    verified = models.BooleanField(default=False)
    protected = models.BooleanField(default=False)
    followers_count = models.PositiveIntegerField(default=0)
    is_business = models.BooleanField(default=False, help_text="Listed as a business account in the simulator.")
    accepts_dms = models.BooleanField(default=True, help_text="Off: DMs to this user are refused with 403.")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"@{self.username}"


class App(models.Model):
    app_id = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    url = models.URLField(blank=True)
    client_id = models.CharField(max_length=100, unique=True)
    client_secret = models.CharField(max_length=100)
    consumer_key = models.CharField(max_length=100, unique=True)
    consumer_secret = models.CharField(max_length=100)
    bearer_token = models.CharField(max_length=100, unique=True, help_text="App-only token (webhook management).")

    def __str__(self) -> str:
        return self.name


class AuthorizationCode(models.Model):
    code = models.CharField(max_length=100, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE)
    user = models.ForeignKey(XUser, on_delete=models.CASCADE)
    redirect_uri = models.CharField(max_length=500)
    scopes = models.CharField(max_length=500)
    code_challenge = models.CharField(max_length=128)
    code_challenge_method = models.CharField(max_length=10)
    created_at = models.DateTimeField()
    used = models.BooleanField(default=False)


class Token(models.Model):
    access_token = models.CharField(max_length=100, unique=True)
    refresh_token = models.CharField(max_length=100, unique=True, null=True, blank=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE)
    user = models.ForeignKey(XUser, on_delete=models.CASCADE, related_name="tokens")
    scopes = models.CharField(max_length=500)
    access_expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    refresh_used = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    @property
    def scope_set(self) -> set[str]:
        return set(self.scopes.split())


class Conversation(models.Model):
    class Kind(models.TextChoices):
        ONE_TO_ONE = "one_to_one"
        GROUP = "group"

    conversation_id = models.CharField(max_length=45, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    created_at = models.DateTimeField()


class Membership(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(XUser, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="sandbox_member_once")]


class Media(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        IN_PROGRESS = "in_progress"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    media_id = models.CharField(max_length=20, unique=True)
    media_key = models.CharField(max_length=30, unique=True)
    owner = models.ForeignKey(XUser, on_delete=models.CASCADE, related_name="media")
    media_category = models.CharField(max_length=20)
    media_type = models.CharField(max_length=50)
    total_bytes = models.PositiveBigIntegerField()
    data = models.BinaryField(default=b"")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    finalized = models.BooleanField(default=False)
    shared = models.BooleanField(default=False)
    alt_text = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField()

    @property
    def type_name(self) -> str:
        return {"3": "photo", "16": "animated_gif", "7": "video"}[self.media_key.split("_")[0]]


class MediaSegment(models.Model):
    media = models.ForeignKey(Media, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["media", "index"], name="sandbox_segment_once")]


class DmEvent(models.Model):
    class EventType(models.TextChoices):
        MESSAGE_CREATE = "MessageCreate"
        PARTICIPANTS_JOIN = "ParticipantsJoin"
        PARTICIPANTS_LEAVE = "ParticipantsLeave"

    event_id = models.CharField(max_length=20, unique=True)
    seq = models.BigIntegerField(unique=True, help_text="The event id as a number, for ordering.")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    sender = models.ForeignKey(XUser, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    text = models.TextField(blank=True)
    participant_ids = models.JSONField(default=list, blank=True)
    media = models.ForeignKey(Media, on_delete=models.SET_NULL, null=True, blank=True)
    referenced_tweet_ids = models.JSONField(default=list, blank=True)
    quick_reply = models.JSONField(null=True, blank=True, help_text="Options a business message offered.")
    quick_reply_response = models.JSONField(null=True, blank=True)
    initiated_via = models.JSONField(null=True, blank=True)
    source_app = models.ForeignKey(App, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["conversation", "-seq"], name="sandbox_event_conv_seq")]


class Deletion(models.Model):
    """A DM event its sender deleted: gone from that user's view only, as v1.1 deletes (x-api.md §2.1)."""

    event = models.ForeignKey(DmEvent, on_delete=models.CASCADE, related_name="deletions")
    user = models.ForeignKey(XUser, on_delete=models.CASCADE, related_name="+")
    deleted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="sandbox_deletion_once")]


class Webhook(models.Model):
    webhook_id = models.CharField(max_length=20, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=200)
    valid = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    last_crc_at = models.DateTimeField(null=True, blank=True)


class Subscription(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(XUser, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["webhook", "user"], name="sandbox_subscription_once")]


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    body = models.BinaryField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()


class RateWindow(models.Model):
    """Requests accepted in one fixed window, per limit key (``<scope>:<endpoint>:<id>:<seconds>``)."""

    key = models.CharField(max_length=200, unique=True)
    window_seconds = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)


class Fault(models.Model):
    """A misbehaviour to inject into matching requests: for the next ``remaining`` ones, or a share."""

    class Kind(models.TextChoices):
        STATUS_429 = "429"
        STATUS_500 = "500"
        STATUS_503 = "503"
        HANG = "hang"
        RESET = "reset"
        ACCEPT_THEN_FAIL = "accept_then_fail"
        WEBHOOK_DELAY = "webhook_delay"
        WEBHOOK_DUPLICATE = "webhook_duplicate"
        WEBHOOK_REORDER = "webhook_reorder"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    method = models.CharField(max_length=10, blank=True, help_text="Empty: any method.")
    path_prefix = models.CharField(max_length=200, blank=True, help_text="Empty: any path.")
    remaining = models.PositiveIntegerField(null=True, blank=True)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    seconds = models.FloatField(default=0, help_text="How long to hang or delay.")
    created_at = models.DateTimeField()


class Post(models.Model):
    """A public post, so DMs can reference posts and deep links can name the post they came from."""

    post_id = models.CharField(max_length=20, unique=True)
    author = models.ForeignKey(XUser, on_delete=models.CASCADE, related_name="posts")
    text = models.CharField(max_length=1000)
    created_at = models.DateTimeField()
