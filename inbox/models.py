"""The inbox's data: X accounts as inboxes, contacts, conversations, messages and their history.

Ids that come from X (user ids, conversation ids, event ids, media keys) are kept as strings,
exactly as X's JSON carries them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from accounts.models import User


class Inbox(models.Model):
    """One connected X account, and the people who work its conversations."""

    x_user_id = models.CharField(max_length=20, unique=True)
    handle = models.CharField(max_length=50)
    display_name = models.CharField(max_length=100, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    members: models.ManyToManyField[User, InboxMembership] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="InboxMembership", related_name="inboxes", blank=True
    )
    teams = models.ManyToManyField("accounts.Team", related_name="inboxes", blank=True)
    auto_assign = models.BooleanField(
        default=False,
        help_text="New conversations go round robin to online agents with free capacity.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "inboxes"
        ordering = ["handle"]

    def __str__(self) -> str:
        return f"@{self.handle}"


class InboxMembership(models.Model):
    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inbox", "user"], name="inbox_member_once")]

    def __str__(self) -> str:
        return f"{self.user} in {self.inbox}"


class Contact(models.Model):
    """An X user who wrote to, or was written to by, one of our inboxes. Refreshed from payloads."""

    x_user_id = models.CharField(max_length=20, unique=True)
    handle = models.CharField(max_length=50, blank=True)
    name = models.CharField(max_length=100, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    location = models.CharField(max_length=200, blank=True)
    followers_count = models.PositiveIntegerField(null=True, blank=True)
    verified = models.BooleanField(default=False)
    protected = models.BooleanField(default=False)
    profile_refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["handle"], name="contact_handle")]

    def __str__(self) -> str:
        return f"@{self.handle}" if self.handle else self.x_user_id

    @property
    def display_name(self) -> str:
        return self.name or (f"@{self.handle}" if self.handle else f"X user {self.x_user_id}")


class Label(models.Model):
    name = models.CharField(max_length=50, unique=True)
    color = models.CharField(max_length=7, default="#6b7280", help_text="CSS hex colour, e.g. #ef4444.")
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    """A DM conversation on X as one inbox sees it (X's conversation id is unique per inbox)."""

    class Kind(models.TextChoices):
        ONE_TO_ONE = "one_to_one", "One-to-one"
        GROUP = "group", "Group"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        SNOOZED = "snoozed", "Snoozed"
        RESOLVED = "resolved", "Resolved"

    class Priority(models.IntegerChoices):
        NONE = 0, "None"
        LOW = 1, "Low"
        MEDIUM = 2, "Medium"
        HIGH = 3, "High"
        URGENT = 4, "Urgent"

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="conversations")
    x_conversation_id = models.CharField(max_length=40)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    contact = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        related_name="conversations",
        null=True,
        blank=True,
        help_text="The customer: the other person of a one-to-one conversation, the first writer of a group.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    status_changed_at = models.DateTimeField()
    snoozed_until = models.DateTimeField(
        null=True, blank=True, help_text="Empty while snoozed means: until the customer writes again."
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NONE)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
        null=True,
        blank=True,
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.SET_NULL, related_name="conversations", null=True, blank=True
    )
    labels = models.ManyToManyField(Label, related_name="conversations", blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    needs_reply = models.BooleanField(default=False, help_text="The newest message is the customer's.")
    customer_read_event_id = models.CharField(
        max_length=20, blank=True, help_text="X's id of the last message the customer has read (“seen”)."
    )
    customer_read_at = models.DateTimeField(null=True, blank=True, help_text="When the customer read it, X's time.")
    origin_post_id = models.CharField(
        max_length=20, blank=True, help_text="The public post whose “Send a private message” link started it."
    )
    origin_summary = models.CharField(
        max_length=200, blank=True, help_text="Which link and campaign started it, in words (“Link K7Q2 · Spring”)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Not a column: set on the rows of a conversation list (inbox.selectors.conversation_list) for the templates.
    is_unread: bool

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inbox", "x_conversation_id"], name="conversation_x_id_per_inbox"),
        ]
        indexes = [
            models.Index(fields=["inbox", "status", "-last_message_at"], name="conv_inbox_status_activity"),
            # The list across every inbox an agent sees, by status or not: walked in order, stopped after a page.
            models.Index(fields=["status", "-last_message_at", "-id"], name="conv_status_activity"),
            models.Index(fields=["-last_message_at", "-id"], name="conv_activity"),
            models.Index(fields=["assignee", "status", "-last_message_at"], name="conv_assignee_status_activity"),
            models.Index(fields=["team", "status", "-last_message_at"], name="conv_team_status_activity"),
            models.Index(fields=["contact", "-last_message_at"], name="conv_contact_activity"),
            models.Index(fields=["snoozed_until"], name="conv_snoozed_until", condition=Q(status="snoozed")),
        ]

    def __str__(self) -> str:
        return f"{self.inbox} · {self.x_conversation_id}"


class Participant(models.Model):
    """An X user in a conversation. Join and leave times are X's; the later one decides membership."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="participants")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="participations")
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "contact"], name="participant_once"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.conversation_id}"


class Message(models.Model):
    """One X DM event in a thread: a message (either way) or a participant joining or leaving.

    The thread is ordered by ``occurred_at`` (X's time) then ``x_sequence`` (X's event id as a
    number: X ids are time-ordered snowflakes, so this breaks ties within a second).
    """

    class EventType(models.TextChoices):
        MESSAGE_CREATE = "MessageCreate", "Message"
        PARTICIPANTS_JOIN = "ParticipantsJoin", "Participants joined"
        PARTICIPANTS_LEAVE = "ParticipantsLeave", "Participants left"

    class Direction(models.TextChoices):
        INBOUND = "inbound", "From the customer"
        OUTBOUND = "outbound", "From the business"
        SYSTEM = "system", "Membership change"

    class DeliveryState(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    x_event_id = models.CharField(max_length=20, null=True, blank=True)
    x_sequence = models.BigIntegerField(null=True, blank=True)
    event_type = models.CharField(max_length=20, choices=EventType.choices, default=EventType.MESSAGE_CREATE)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    sender_contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="sent_messages", null=True, blank=True
    )
    sender_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="sent_messages", null=True, blank=True
    )
    text = models.TextField(blank=True)
    entities = models.JSONField(default=dict, blank=True)
    referenced_post_ids = models.JSONField(default=list, blank=True)
    participant_x_ids = models.JSONField(
        default=list, blank=True, help_text="Who joined or left, for membership events."
    )
    quick_reply_response = models.JSONField(
        null=True, blank=True, help_text="The option a customer picked from a quick-reply menu."
    )
    source_app_name = models.CharField(
        max_length=100, blank=True, help_text="The app X says sent it (empty for X's own apps and for inbound)."
    )
    initiated_via_post_id = models.CharField(
        max_length=20, blank=True, help_text="The public post whose DM button started the conversation."
    )
    welcome_message_id = models.CharField(max_length=20, blank=True)
    x_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When X echoed our outbound message back (webhook or poll)."
    )
    x_created_at = models.DateTimeField(null=True, blank=True)
    occurred_at = models.DateTimeField(help_text="X's time, or when the reply was written while X has not seen it.")
    delivery_state = models.CharField(max_length=10, choices=DeliveryState.choices, blank=True)
    error_detail = models.TextField(blank=True)
    send_after = models.DateTimeField(
        null=True, blank=True, help_text="A queued reply goes out no earlier: the undo window, or the rate limit's."
    )
    send_claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the attempt now 'sending' the reply began (to find crashed ones)."
    )
    send_unconfirmed_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the first send that may have reached X unconfirmed began: it is looked for on X first.",
    )
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Not columns: set on the messages of a timeline (inbox.selectors.thread) for the templates.
    undo_open: bool
    is_seen: bool
    participant_names: list[str]

    class Meta:
        ordering = ["occurred_at", "x_sequence", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "x_event_id"],
                condition=Q(x_event_id__isnull=False),
                name="message_x_event_once_per_conversation",
            ),
            models.CheckConstraint(
                condition=~Q(direction="outbound") | ~Q(delivery_state=""), name="outbound_has_delivery_state"
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "occurred_at", "x_sequence"], name="message_thread_order"),
            models.Index(fields=["x_event_id"], name="message_x_event"),
            models.Index(
                fields=["delivery_state"],
                name="message_undelivered",
                condition=Q(delivery_state__in=["queued", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} {self.x_event_id or self.pk}"


class MessageAttachment(models.Model):
    class MediaType(models.TextChoices):
        PHOTO = "photo", "Photo"
        ANIMATED_GIF = "animated_gif", "GIF"
        VIDEO = "video", "Video"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    media_type = models.CharField(max_length=16, choices=MediaType.choices)
    media_key = models.CharField(max_length=40, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    preview_url = models.URLField(max_length=1000, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    alt_text = models.CharField(max_length=1000, blank=True)
    media_id = models.CharField(max_length=20, blank=True)
    download_url = models.URLField(
        max_length=1000, blank=True, help_text="Where X serves the file; it needs the account's own auth."
    )
    variants = models.JSONField(default=list, blank=True, help_text="Video renditions: bitrate, content type, URL.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    file = models.FileField(upload_to="dm-media/%Y/%m/", blank=True, help_text="Our copy, served to agents.")
    content_type = models.CharField(max_length=100, blank=True)
    stored_at = models.DateTimeField(null=True, blank=True)
    download_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.media_type} {self.media_key}"


class Note(models.Model):
    """An internal note in a conversation. Only agents see it; it is never sent to X."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="notes")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="note_conversation_time")]

    def __str__(self) -> str:
        return f"Note by {self.author} on {self.conversation_id}"


class CannedResponse(models.Model):
    """A saved reply an agent inserts with ``/shortcut``; the body may hold placeholders."""

    shortcut = models.SlugField(max_length=50, unique=True)
    title = models.CharField(max_length=100)
    body = models.TextField()
    inbox = models.ForeignKey(
        Inbox,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        null=True,
        blank=True,
        help_text="Empty: available in every inbox.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class ConversationEvent(models.Model):
    """The durable activity log of a conversation: one row per change, built in ``inbox.events``."""

    class Kind(models.TextChoices):
        CREATED = "created", "Conversation started"
        REOPENED = "reopened", "Reopened"
        STATUS_CHANGED = "status_changed", "Status changed"
        ASSIGNED = "assigned", "Assigned"
        TEAM_ASSIGNED = "team_assigned", "Team assigned"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        LABELS_CHANGED = "labels_changed", "Labels changed"
        PARTICIPANT_JOINED = "participant_joined", "Participant joined"
        PARTICIPANT_LEFT = "participant_left", "Participant left"
        NOTE_ADDED = "note_added", "Note added"
        STARTED_FROM = "started_from", "Started from a public post"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    parameters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="event_conversation_time"),
            # The audit log: every inbox's activity newest first, a page at a time.
            models.Index(fields=["-created_at", "-id"], name="event_newest_first"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.conversation_id}"


class ConversationRead(models.Model):
    """How far one agent has read a conversation: it is unread for them while a customer wrote after ``read_at``."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_reads")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="conversation_read_once")]

    def __str__(self) -> str:
        return f"{self.user} read {self.conversation_id} at {self.read_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """Something an agent should look at: a mention in a note, a conversation assigned to them."""

    class Kind(models.TextChoices):
        MENTION = "mention", "Mentioned in a note"
        ASSIGNED = "assigned", "Assigned to you"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="notification_inbox_of_user")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.user}"


class AutoAssignTurn(models.Model):
    """When auto-assignment last gave one agent a conversation of one inbox: the least recent goes next."""

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="auto_assign_turns")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auto_assign_turns")
    last_assigned_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inbox", "user"], name="auto_assign_turn_once")]

    def __str__(self) -> str:
        return f"{self.user} in {self.inbox} at {self.last_assigned_at:%Y-%m-%d %H:%M:%S}"
