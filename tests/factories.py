"""Plain factory functions for tests (allauth's style, no factory_boy)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from accounts.models import Team, User
from accounts.services import team_create, team_member_add, user_create
from inbox.dm_events import DmEvent, DmEventType, XUserProfile
from inbox.models import Inbox
from inbox.services.inboxes import inbox_member_add, inbox_team_add, inbox_upsert
from twitter_channel.models import XAccount

PASSWORD = "correct horse battery staple"
BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_counter = itertools.count(1)
_event_ids = itertools.count(1_860_000_000_000_000_000, 4096)


def make_agent(*, role: str = User.Role.AGENT, email: str | None = None, name: str = "") -> User:
    n = next(_counter)
    return user_create(email=email or f"agent{n}@example.test", password=PASSWORD, name=name or f"Agent {n}", role=role)


def make_superuser() -> User:
    """An admin of the Django admin site, made as ``createsuperuser`` makes one."""
    return User.objects.create_superuser(f"root{next(_counter)}@example.test", PASSWORD)


def make_inbox(*, members: tuple[User, ...] = (), teams: tuple[Team, ...] = (), x_user_id: str | None = None) -> Inbox:
    n = next(_counter)
    inbox = inbox_upsert(
        x_user_id=x_user_id or str(1_500_000_000_000_000_000 + n), handle=f"brand{n}", display_name=f"Brand {n}"
    )
    for user in members:
        inbox_member_add(inbox=inbox, user=user)
    for team in teams:
        inbox_team_add(inbox=inbox, team=team)
    return inbox


def make_x_account(inbox: Inbox | None = None, **fields: object) -> XAccount:
    """A connected X account for ``inbox`` (a new inbox by default); its tokens are stored, never used."""
    now = datetime.now(UTC)
    fields.setdefault("scopes", "dm.read dm.write")
    account = XAccount(inbox=inbox or make_inbox(), status_changed_at=now, connected_at=now, **fields)
    account.access_token, account.refresh_token = "access", "refresh"
    account.save()
    return account


def make_team(*, members: tuple[User, ...] = ()) -> Team:
    team = team_create(name=f"Team {next(_counter)}")
    for user in members:
        team_member_add(team=team, user=user)
    return team


def one_to_one_id(a: str, b: str) -> str:
    low, high = sorted((int(a), int(b)))
    return f"{low}-{high}"


def next_event_id() -> str:
    return str(next(_event_ids))


def dm(
    inbox: Inbox,
    customer_id: str,
    *,
    text: str = "Hello",
    at: datetime | None = None,
    from_business: bool = False,
    event_id: str | None = None,
    profile: XUserProfile | None = None,
) -> DmEvent:
    """A one-to-one message between ``inbox`` and the customer ``customer_id``."""
    return DmEvent(
        x_event_id=event_id or next_event_id(),
        event_type=DmEventType.MESSAGE_CREATE,
        x_conversation_id=one_to_one_id(inbox.x_user_id, customer_id),
        created_at=at or BASE_TIME,
        sender_id=inbox.x_user_id if from_business else customer_id,
        text=text,
        users={profile.x_user_id: profile} if profile else {},
    )


def membership(
    group_id: str, *, joined: bool, participants: tuple[str, ...], at: datetime, sender: str | None = None
) -> DmEvent:
    return DmEvent(
        x_event_id=next_event_id(),
        event_type=DmEventType.PARTICIPANTS_JOIN if joined else DmEventType.PARTICIPANTS_LEAVE,
        x_conversation_id=group_id,
        created_at=at,
        sender_id=sender,
        participant_ids=participants,
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
