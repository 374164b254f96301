"""Sent when a DM event exists on the sandbox's X, whoever made it (API, simulator, control API)."""

from django.dispatch import Signal

dm_event_created = Signal()  # kwargs: event
