"""A lived-in workspace for the layout tests: an inbox with a long conversation (notes, images, a customer
whose avatar cannot be loaded), a team, a lead, a social manager, notifications, audit rows, a DM link and a
finished bulk batch, so that every page has the content that made it overflow.

Everything is made through the services, in the test process, on the live server's database; no X sandbox
is needed (no page here calls X).
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect

from accounts.models import Team, User
from inbox.dm_events import XUserProfile
from inbox.models import Conversation, Inbox, MessageAttachment
from inbox.services.assignment import conversation_assign
from inbox.services.ingest import dm_event_ingest
from inbox.services.notes import note_create
from tests.factories import dm, make_agent, make_inbox, make_team, make_x_account

if TYPE_CHECKING:
    from inbox.models import Message

CUSTOMER = "2244994945"
CUSTOMER_NAME = "María Fernández-Castellanos"
# A customer's long unbroken text and a long link: what pushed bubbles and rows sideways.
LONG_WORD = "Reference:" + "ABCDEFGHIJ" * 12
LONG_LINK = "https://shop.example.com/orders/1001/tracking?carrier=very-long-carrier-name&session=" + "x" * 60


def png(width: int, height: int) -> bytes:
    """A plain PNG of ``width`` × ``height`` (one colour), made here so the tests need no image files."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x3b\x82\xf6" * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PHOTO = png(480, 360)
PHOTO_DATA_URL = "data:image/png;base64," + base64.b64encode(PHOTO).decode()


@dataclass
class Workspace:
    url: str
    inbox: Inbox
    team: Team
    admin: User
    lead: User
    agent: User
    social: User
    conversation: Conversation
    batch_id: int

    def page(self, context: BrowserContext, user: User | None) -> Page:
        """A tab of ``context`` logged in as ``user`` (None: logged out). DM media is answered here at once."""
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
            context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": self.url}])
        page = context.new_page()
        page.route("**/media/dm/**", lambda route: route.fulfill(status=200, content_type="image/png", body=PHOTO))
        return page


def open_inbox(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("[data-inbox][data-connection=open]")).to_be_attached()


def customer_writes(inbox: Inbox, text: str, *, at_minutes: float, customer: str = CUSTOMER, **profile) -> Message:
    at = timezone.now() - timedelta(hours=3) + timedelta(minutes=at_minutes)
    profile_data = XUserProfile(x_user_id=customer, **profile) if profile else None
    return dm_event_ingest(inbox=inbox, event=dm(inbox, customer, text=text, at=at, profile=profile_data)).message


def business_writes(inbox: Inbox, text: str, *, at_minutes: float, customer: str = CUSTOMER) -> Message:
    at = timezone.now() - timedelta(hours=3) + timedelta(minutes=at_minutes)
    event = dm(inbox, customer, text=text, at=at, from_business=True)
    return dm_event_ingest(inbox=inbox, event=event).message


def add_photo(message: Message, *, sized: bool) -> MessageAttachment:
    """A stored photo on ``message``; with ``sized``, X told us its width and height."""
    return MessageAttachment.objects.create(
        message=message,
        media_type=MessageAttachment.MediaType.PHOTO,
        media_key=f"3_{message.pk}",
        width=480 if sized else None,
        height=360 if sized else None,
        file=f"dm-media/test/{message.pk}.png",
        content_type="image/png",
        stored_at=timezone.now(),
    )


def build_workspace(url: str, *, messages: int = 24, photos: int = 3, sized_photos: bool = True) -> Workspace:
    """The workspace on the live server at ``url``: ``messages`` back-and-forth messages, ``photos`` of them
    with a photo (the last ones, so they load near the bottom), and the rest of the app's pages filled."""
    from twitter_channel.handoff.batches import handoff_batch_create
    from twitter_channel.handoff.links import handoff_link_create

    admin = make_agent(role=User.Role.ADMIN, name="Adelheid Administrator-Longname", email="ada@example.test")
    # A long address, as real ones are: the agents table must still fit a tablet.
    lead = make_agent(role=User.Role.LEAD, name="Lena Lead", email="lena.lead@support.example-company.test")
    agent = make_agent(name="Alice Agent", email="alice@example.test")
    social = make_agent(role=User.Role.SOCIAL, name="Sofia Social", email="sofia@example.test")
    team = make_team(members=(agent, lead))
    inbox = make_inbox(members=(admin, lead, agent, social), teams=(team,))
    account = make_x_account(inbox)
    first = customer_writes(
        inbox,
        f"Hello! My order has not arrived. {LONG_WORD}",
        at_minutes=0,
        handle="maria_fernandez",
        name=CUSTOMER_NAME,
        avatar_url=f"{url}/static/missing/avatar-that-is-gone.png",
        description="Coffee, code and parcels that never arrive. " * 3,
        location="Sevilla, Andalucía, España",
        followers_count=1234,
    )
    conversation = first.conversation
    for n in range(1, messages):
        if n % 2:
            business_writes(inbox, f"Reply {n}: let me check that for you, one moment please.", at_minutes=n)
        else:
            customer_writes(inbox, f"Message {n}: still waiting. Tracking: {LONG_LINK}", at_minutes=n)
    for message in conversation.messages.filter(direction="inbound").order_by("-occurred_at")[:photos]:
        add_photo(message, sized=sized_photos)
    note_create(conversation_id=conversation.pk, author=agent, body="Checked with the warehouse: it left on Monday.")
    conversation_assign(conversation_id=conversation.pk, assignee=admin, actor=lead)  # a notification for the admin
    for n in range(12):  # a full list, and conversations others hold
        other = str(3_000_000 + n)
        customer_writes(inbox, f"Question {n} about {LONG_WORD}", at_minutes=30 + n, customer=other,
                        handle=f"long_handle_{n:03d}", name=f"Customer Number {n} With A Long Name")  # fmt: skip
    for n in range(4):
        handoff_link_create(
            account=account,
            created_by=social,
            reply_text="So sorry about the delay! Send us a private message and we will sort it out:",
            prefill_text="Hi, about my order",
            campaign=f"Spring delays campaign number {n}",
            post=f"https://x.com/longhandle_1234/status/{1790000000000000001 + n}",
        )
    posts = "\n".join(f"https://x.com/cust_{n}/status/{1790000000000000100 + n}" for n in range(6))
    batch = handoff_batch_create(
        account=account,
        created_by=social,
        campaign="Spring delays, the bulk of them",
        reply_template="{author} So sorry about this! Tap below to message us privately and we will sort it out :)",
        prefill_template="Hi, about my post",
        text=posts,
    )
    conversation.refresh_from_db()
    return Workspace(
        url=url, inbox=inbox, team=team, admin=admin, lead=lead, agent=agent, social=social,
        conversation=conversation, batch_id=batch.pk,
    )  # fmt: skip
