"""Agents (the custom user), their roles, presence and capacity, and teams."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("role", User.Role.ADMIN)
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who works in Backchannel. Logs in with an email address (django-allauth)."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        LEAD = "lead", "Team lead"
        AGENT = "agent", "Agent"
        SOCIAL = "social", "Social manager"

    class Presence(models.TextChoices):
        ONLINE = "online", "Online"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    class PresenceChoice(models.TextChoices):
        """What the agent chose in the top bar; ``presence`` is what follows from it (``accounts.presence``)."""

        AUTO = "auto", "Auto"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    # The effective state as last worked out and announced (accounts.presence, inbox.services.agent_status):
    # online while a page is open and active, unless the agent chose away or offline.
    presence = models.CharField(max_length=16, choices=Presence.choices, default=Presence.OFFLINE)
    presence_choice = models.CharField(
        max_length=16,
        choices=PresenceChoice.choices,
        default=PresenceChoice.AUTO,
        help_text="Auto: online while the inbox is open and in use; away or offline as chosen, kept across sessions.",
    )
    presence_changed_at = models.DateTimeField(null=True, blank=True)
    capacity = models.PositiveSmallIntegerField(
        default=10, help_text="Most open conversations auto-assignment gives this agent at once."
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May log into the Django admin site.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["name", "email"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMIN

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members: models.ManyToManyField[User, TeamMembership] = models.ManyToManyField(
        User, through="TeamMembership", related_name="teams", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_once")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class AgentPreferences(models.Model):
    """What one agent chose about their own workspace: their time zone and how new customer messages alert them.

    An agent without a row has the defaults (``accounts.selectors.preferences_of``); the row is written the
    first time they save their preferences page (``accounts.services.preferences_update``).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="preferences", primary_key=True)
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="An IANA time zone name, e.g. Europe/Paris; blank: the browser's."
    )
    desktop_notifications = models.BooleanField(
        default=True, help_text="A desktop notification for a new customer message (once the browser allows it)."
    )
    sound = models.BooleanField(default=True, help_text="A short sound for a new customer message.")
    notify_mine = models.BooleanField("Mine", default=True)
    notify_unassigned = models.BooleanField("Unassigned", default=True)
    notify_teams = models.BooleanField("My teams", default=True)

    class Meta:
        verbose_name_plural = "agent preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
