"""Inboxes and who may work them."""

from __future__ import annotations

from accounts.models import Team, User
from inbox.models import Inbox, InboxMembership


def inbox_upsert(*, x_user_id: str, handle: str, display_name: str = "", avatar_url: str = "") -> Inbox:
    """Create the inbox of an X account, or update its profile fields if it exists."""
    inbox, _ = Inbox.objects.update_or_create(
        x_user_id=x_user_id,
        defaults={"handle": handle, "display_name": display_name, "avatar_url": avatar_url},
    )
    return inbox


def inbox_member_add(*, inbox: Inbox, user: User) -> InboxMembership:
    membership, _ = InboxMembership.objects.get_or_create(inbox=inbox, user=user)
    return membership


def inbox_team_add(*, inbox: Inbox, team: Team) -> None:
    inbox.teams.add(team)
