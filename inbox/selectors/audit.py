"""The admins' audit log: every conversation's activity, newest first, filtered by who did it, what kind of
change it was and when."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from inbox.models import ConversationEvent

PER_PAGE = 50
SYSTEM = "system"  # the person filter's value for changes nobody made (Backchannel itself, X, a snooze ending)


def audit_people() -> QuerySet[User]:
    """Everyone who may appear in the log as having made a change, deactivated people included."""
    return User.objects.order_by("name", "email")


def audit_events(
    *, person: str = "", kind: str = "", since: date | None = None, until: date | None = None
) -> QuerySet[ConversationEvent]:
    """The log's rows, newest first. ``person``: a user's id, ``SYSTEM`` or empty for everyone; ``kind``: a
    ``ConversationEvent.Kind`` or empty; ``since`` and ``until``: days in the current time zone, both
    included. The caller checked the values (``inbox.forms.AuditFilterForm``)."""
    events = ConversationEvent.objects.select_related("actor", "conversation__inbox", "conversation__contact")
    if person == SYSTEM:
        events = events.filter(actor__isnull=True)
    elif person:
        events = events.filter(actor_id=int(person))
    if kind:
        events = events.filter(kind=kind)
    if since is not None:
        events = events.filter(created_at__gte=_start_of(since))
    if until is not None and until < date.max:
        events = events.filter(created_at__lt=_start_of(until + timedelta(days=1)))
    return events.order_by("-created_at", "-id")


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
