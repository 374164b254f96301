"""Reads about agents that other apps and the middleware share: an agent's own preferences."""

from __future__ import annotations

from accounts.models import AgentPreferences, User


def preferences_of(user: User) -> AgentPreferences:
    """``user``'s preferences: their stored row, or an unsaved one with the defaults (nothing is written)."""
    found = AgentPreferences.objects.filter(user=user).first()
    return found if found is not None else AgentPreferences(user=user)


def time_zone_of(user_id: int) -> str:
    """The IANA name ``user_id`` chose for their time zone, or "" to follow their browser (one query)."""
    return AgentPreferences.objects.filter(user_id=user_id).values_list("time_zone", flat=True).first() or ""
