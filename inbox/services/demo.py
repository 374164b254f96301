"""Demo data for the quick start: an inbox, agents of every role, and a few conversations.

Messages go through the real ingest service with fixed X ids, so seeding twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import team_get_or_create, team_member_add, user_create, user_superuser_ensure
from inbox.dm_events import DmEvent, DmEventType, DmMedia, XUserProfile
from inbox.models import Conversation, Inbox, MessageAttachment
from inbox.services import demo_media
from inbox.services.attachments import attachment_file_store
from inbox.services.conversations import conversation_status_set
from inbox.services.inboxes import inbox_member_add, inbox_team_add, inbox_upsert
from inbox.services.ingest import dm_event_ingest

DEMO_PASSWORD = "backchannel-demo"
DEMO_INBOX = XUserProfile(x_user_id="1500000000000000001", handle="AcmeSupport", name="Acme Support")
DEMO_AGENTS = (
    ("admin@demo.backchannel.test", "Ada Admin", User.Role.ADMIN),
    ("lead@demo.backchannel.test", "Lee Lead", User.Role.LEAD),
    ("agent@demo.backchannel.test", "Alice Agent", User.Role.AGENT),
    ("social@demo.backchannel.test", "Sam Social", User.Role.SOCIAL),
)
CUSTOMERS = (
    XUserProfile(
        "2244994945",
        "maria_codes",
        "María Fernández",
        description="Backend dev. Coffee first.",
        location="Madrid",
        followers_count=1830,
        verified=False,
        protected=False,
    ),
    XUserProfile(
        "783214",
        "kenji_t",
        "Kenji Tanaka",
        description="旅行と写真",
        location="Osaka",
        followers_count=412,
        verified=False,
        protected=False,
    ),
    XUserProfile(
        "1072250532645998596",
        "priya_builds",
        "Priya Nair",
        description="Makes things with wood.",
        location="Bengaluru",
        followers_count=96,
        verified=False,
        protected=True,
    ),
    XUserProfile(
        "944480690",
        "tom_h",
        "Tom Harris",
        description="Runner. Dad. Occasional complainer.",
        location="Leeds",
        followers_count=27004,
        verified=True,
        protected=False,
    ),
    XUserProfile(
        "906948460078698496",
        "lena_k",
        "Lena Kowalski",
        location="Kraków",
        followers_count=5,
        verified=False,
        protected=False,
    ),
)


@dataclass(frozen=True)
class DemoSeed:
    inbox: Inbox
    agents: list[User]
    password: str
    conversations: int


def _conversation_id(customer: XUserProfile) -> str:
    low, high = sorted((int(customer.x_user_id), int(DEMO_INBOX.x_user_id)))
    return f"{low}-{high}"


# Kenji's screenshot: X's address for it, as X would give it; nothing copies it from there (the demo is seeded
# before any account is connected, and the sandbox does not serve that address), so the seed stores the
# picture drawn in ``demo_media`` as its file.
CRASH_PHOTO = DmMedia(
    media_type="photo",
    media_key="3_1860000000000000777",
    url="https://ton.twitter.com/1.1/ton/data/dm/demo/crash.png",
    width=demo_media.WIDTH,
    height=demo_media.HEIGHT,
)


def _script(now: datetime) -> list[tuple[DmEvent, bool]]:
    """The demo events, and for each whether the conversation is resolved right after it."""
    maria, kenji, priya, tom, lena = CUSTOMERS
    users = {c.x_user_id: c for c in CUSTOMERS}
    business = DEMO_INBOX.x_user_id
    script: list[tuple[DmEvent, bool]] = []
    event_id = 1860000000000000000

    def add(
        customer: XUserProfile | None,
        minutes_ago: int,
        sender: str,
        text: str = "",
        *,
        conversation: str | None = None,
        kind: DmEventType = DmEventType.MESSAGE_CREATE,
        participants: tuple[str, ...] = (),
        media: tuple[DmMedia, ...] = (),
        resolve: bool = False,
    ) -> None:
        nonlocal event_id
        event_id += 1000
        if not conversation:
            assert customer is not None, "a group conversation's events name the conversation"
            conversation = _conversation_id(customer)
        script.append(
            (
                DmEvent(
                    x_event_id=str(event_id),
                    event_type=kind,
                    x_conversation_id=conversation,
                    created_at=now - timedelta(minutes=minutes_ago),
                    sender_id=sender,
                    text=text,
                    participant_ids=participants,
                    attachments=media,
                    users=users,
                ),
                resolve,
            )
        )

    add(maria, 180, maria.x_user_id, "Hi! My order #4417 says delivered but nothing arrived.")
    add(maria, 170, business, "Sorry about that, María. Could you confirm the delivery postcode?")
    add(maria, 12, maria.x_user_id, "It's 28013. Still nothing today.")
    add(kenji, 95, kenji.x_user_id, "The app crashes when I upload a photo 📷", media=(CRASH_PHOTO,))
    add(priya, 60 * 26, priya.x_user_id, "Can I change the colour of my order?")
    add(priya, 60 * 25, business, "Done! You'll get the walnut finish.", resolve=True)
    add(tom, 40, tom.x_user_id, "Third time asking: where is my refund?")
    group = "1860000000000000000"
    add(
        None,
        300,
        business,
        kind=DmEventType.PARTICIPANTS_JOIN,
        conversation=group,
        participants=(lena.x_user_id, tom.x_user_id),
    )
    add(None, 299, lena.x_user_id, "Hello from the beta testers group!", conversation=group)
    add(None, 200, business, kind=DmEventType.PARTICIPANTS_LEAVE, conversation=group, participants=(tom.x_user_id,))
    return script


def _agent(email: str, name: str, role: str) -> User:
    """The demo user with this email; created with ``DEMO_PASSWORD`` if missing. One that exists is left as it
    is: its password (changed or not) and its sessions stay, so restarting the quick start logs nobody out.
    The demo admin is also a superuser of the Django admin site (``/admin/``), made one if an older seed
    left them staff only."""
    user = User.objects.filter(email=email).first()
    if user is None:
        user = user_create(email=email, password=DEMO_PASSWORD, name=name, role=role)
    if role == User.Role.ADMIN:
        user = user_superuser_ensure(user=user)
    return user


def _demo_photo_store(inbox: Inbox) -> None:
    """Store the demo photo's file where it has none yet (a new seed, or one from before the demo drew it)."""
    photo = MessageAttachment.objects.filter(
        message__conversation__inbox=inbox, media_key=CRASH_PHOTO.media_key, file=""
    ).first()
    if photo is not None:
        content = demo_media.crash_screenshot_png()
        attachment_file_store(attachment_id=photo.pk, content=content, content_type="image/png", name="demo-crash.png")


def demo_seed(*, now: datetime | None = None) -> DemoSeed:
    """Create (or bring back) the demo inbox, one agent per role (new ones with ``DEMO_PASSWORD``), a team
    and the demo conversations, with the demo photo's file stored. Safe to run any number of times: demo
    users that exist keep their passwords and sessions."""
    now = now or timezone.now()
    with transaction.atomic():
        agents = [_agent(email, name, role) for email, name, role in DEMO_AGENTS]
        inbox = inbox_upsert(
            x_user_id=DEMO_INBOX.x_user_id, handle=DEMO_INBOX.handle or "", display_name=DEMO_INBOX.name or ""
        )
        team = team_get_or_create(name="Customer care")
        for agent in agents:
            if agent.role in (User.Role.LEAD, User.Role.AGENT):
                team_member_add(team=team, user=agent)
        inbox_team_add(inbox=inbox, team=team)
        for agent in agents:
            if agent.role == User.Role.SOCIAL:
                inbox_member_add(inbox=inbox, user=agent)
    for event, resolve in _script(now):
        result = dm_event_ingest(inbox=inbox, event=event)
        if resolve and result.created:
            conversation_status_set(
                conversation_id=result.message.conversation_id, status=Conversation.Status.RESOLVED, actor=agents[1]
            )
    _demo_photo_store(inbox)
    return DemoSeed(inbox=inbox, agents=agents, password=DEMO_PASSWORD, conversations=inbox.conversations.count())
