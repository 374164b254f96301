"""Who may act on a conversation they can see (seeing it is decided in ``selectors``)."""

from __future__ import annotations

from accounts.models import User


def may_write(user: User) -> bool:
    """Reply, write notes, change status: everyone but social managers, who read conversations only."""
    return user.is_active and (user.is_admin or user.role != User.Role.SOCIAL)


READ_ONLY = "Social managers can read conversations but not change them."


def may_open_settings(user: User) -> bool:
    """The Settings pages (canned responses, labels): admins, and leads for the canned responses of their
    inboxes."""
    return user.is_active and (user.is_admin or user.role == User.Role.LEAD)


def may_manage_labels(user: User) -> bool:
    """Labels are shared by every inbox, so only admins add, change and delete them."""
    return user.is_active and user.is_admin
