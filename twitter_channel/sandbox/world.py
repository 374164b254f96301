"""Changes to the sandbox's world, shared by the API, the control API and the simulator pages."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import NotRequired, TypedDict

from django.conf import settings
from django.db import transaction

from twitter_channel.sandbox import clock, ids, mediastore, problems
from twitter_channel.sandbox.models import (
    App,
    Conversation,
    Deletion,
    DmEvent,
    Media,
    Membership,
    Post,
    Token,
    XUser,
)
from twitter_channel.sandbox.signals import dm_event_created

ACCESS_TOKEN_SECONDS = 2 * 60 * 60
MEDIA_ATTACH_WINDOW = timedelta(hours=24)
MAX_TEXT = 10_000
USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")  # X's rule (OA UserName)
POST_URL = re.compile(r"https?://(?:www\.)?(?:x|twitter)\.com/[A-Za-z0-9_]+/status/(\d{1,19})")


class DemoUser(TypedDict):
    """A demo account, as ``user_create``'s keyword arguments."""

    x_id: str
    username: str
    name: str
    location: NotRequired[str]


# The demo world: the business account and customers match Backchannel's demo inbox.
DEMO_BUSINESS: DemoUser = {"x_id": "1500000000000000001", "username": "AcmeSupport", "name": "Acme Support"}
DEMO_CUSTOMERS: tuple[DemoUser, ...] = (
    {"x_id": "2244994945", "username": "maria_codes", "name": "María Fernández", "location": "Madrid"},
    {"x_id": "783214", "username": "kenji_t", "name": "Kenji Tanaka", "location": "Osaka"},
    {"x_id": "1072250532645998596", "username": "priya_builds", "name": "Priya Nair", "location": "Bengaluru"},
    {"x_id": "944480690", "username": "tom_h", "name": "Tom Harris", "location": "Leeds"},
    {"x_id": "906948460078698496", "username": "lena_k", "name": "Lena Kowalski", "location": "Kraków"},
)


def default_app() -> App:
    conf = settings.SANDBOX
    app, _ = App.objects.get_or_create(
        client_id=conf["CLIENT_ID"],
        defaults={
            "app_id": "13090192",
            "name": "Backchannel (sandbox)",
            "url": "https://github.com/backchannel",
            "client_secret": conf["CLIENT_SECRET"],
            "consumer_key": conf["CONSUMER_KEY"],
            "consumer_secret": conf["CONSUMER_SECRET"],
            "bearer_token": "sandbox-app-bearer-" + conf["CLIENT_ID"],
        },
    )
    return app


def user_create(
    *, username: str, name: str, x_id: str | None = None, is_business: bool = False, **profile: object
) -> XUser:
    if not USERNAME.fullmatch(username):
        raise ValueError("username: 1 to 15 letters, digits or '_'")
    if XUser.objects.filter(username__iexact=username).exists():
        raise ValueError(f"username @{username} is taken")
    if x_id is not None and (not x_id.isdigit() or XUser.objects.filter(x_id=x_id).exists()):
        raise ValueError(f"user id {x_id!r} must be a number that no other user has")
    return XUser.objects.create(
        x_id=x_id or str(ids.snowflake()),
        username=username,
        name=name[:50],
        is_business=is_business,
        created_at=clock.now(),
        **profile,
    )


def token_issue(*, user: XUser, app: App, scopes: str, with_refresh: bool | None = None) -> Token:
    """Issue a 2-hour access token (and a refresh token when ``offline.access`` is granted)."""
    scope_set = scopes.split()
    refresh = ("offline.access" in scope_set) if with_refresh is None else with_refresh
    now = clock.now()
    return Token.objects.create(
        access_token=secrets.token_urlsafe(32),
        refresh_token=secrets.token_urlsafe(32) if refresh else None,
        app=app,
        user=user,
        scopes=" ".join(scope_set),
        access_expires_at=now + timedelta(seconds=ACCESS_TOKEN_SECONDS),
        created_at=now,
    )


def seed() -> None:
    """The default app, the demo business account and its customers (idempotent)."""
    default_app()
    if not XUser.objects.filter(x_id=DEMO_BUSINESS["x_id"]).exists():
        user_create(is_business=True, **DEMO_BUSINESS)
    for customer in DEMO_CUSTOMERS:
        if not XUser.objects.filter(x_id=customer["x_id"]).exists():
            user_create(**customer)


def _member_ids(conversation: Conversation) -> set[str]:
    return set(conversation.memberships.filter(left_at__isnull=True).values_list("user__x_id", flat=True))


def conversation_one_to_one(a: XUser, b: XUser) -> Conversation:
    conversation_id = ids.one_to_one_conversation_id(a.x_id, b.x_id)
    conversation, created = Conversation.objects.get_or_create(
        conversation_id=conversation_id,
        defaults={"kind": Conversation.Kind.ONE_TO_ONE, "created_at": clock.now()},
    )
    if created:
        for user in (a, b):
            Membership.objects.create(conversation=conversation, user=user, joined_at=conversation.created_at)
    return conversation


def _event(conversation: Conversation, event_type: str, **fields: object) -> DmEvent:
    seq = ids.snowflake()
    event = DmEvent.objects.create(
        event_id=str(seq), seq=seq, conversation=conversation, event_type=event_type, created_at=clock.now(), **fields
    )
    transaction.on_commit(lambda: dm_event_created.send(sender=DmEvent, event=event))
    return event


def _check_media(sender: XUser, media: Media | None) -> None:
    if media is None:
        return
    if media.owner_id != sender.pk or clock.now() - media.created_at > MEDIA_ATTACH_WINDOW:
        raise problems.forbidden("You are not permitted to attach this media to a DM event.")
    mediastore.settle(media)
    if media.state != Media.State.SUCCEEDED:
        raise problems.invalid_request(f"Media {media.media_id} is not ready: its processing state is {media.state}.")


@transaction.atomic
def dm_send(
    *,
    sender: XUser,
    conversation: Conversation,
    text: str = "",
    media: Media | None = None,
    app: App | None = None,
    quick_reply: dict | None = None,
    quick_reply_response: dict | None = None,
    initiated_via: dict | None = None,
) -> DmEvent:
    """Add a message from ``sender`` to ``conversation``; problems for what X would refuse."""
    if sender.x_id not in _member_ids(conversation):
        raise problems.forbidden("You are not a participant of this conversation.")
    if len(text) > MAX_TEXT:
        raise problems.invalid_request(f"The text of your direct message is over the max character limit ({MAX_TEXT}).")
    others = XUser.objects.filter(x_id__in=_member_ids(conversation) - {sender.x_id})
    if conversation.kind == Conversation.Kind.ONE_TO_ONE and any(not u.accepts_dms for u in others):
        raise problems.forbidden("You cannot send messages to this user.")
    _check_media(sender, media)
    return _event(
        conversation,
        DmEvent.EventType.MESSAGE_CREATE,
        sender=sender,
        text=text,
        media=media,
        referenced_tweet_ids=POST_URL.findall(text),
        source_app=app,
        quick_reply=quick_reply,
        quick_reply_response=quick_reply_response,
        initiated_via=initiated_via,
    )


def dm_event_delete(*, event: DmEvent, user: XUser) -> None:
    """Remove ``user``'s own message from ``user``'s view; everyone else in the conversation still sees it."""
    if event.event_type != DmEvent.EventType.MESSAGE_CREATE or event.sender_id != user.pk:
        raise problems.forbidden("You can only delete direct messages you sent.")
    Deletion.objects.get_or_create(event=event, user=user, defaults={"deleted_at": clock.now()})


@transaction.atomic
def group_create(
    *, creator: XUser, participants: list[XUser], text: str, media: Media | None, app: App | None
) -> tuple[Conversation, DmEvent]:
    """A new group (always a new id, as on X) with everyone joined, then the first message."""
    conversation = Conversation.objects.create(
        conversation_id=str(ids.snowflake()), kind=Conversation.Kind.GROUP, created_at=clock.now()
    )
    for user in [creator, *participants]:
        Membership.objects.create(conversation=conversation, user=user, joined_at=conversation.created_at)
    _event(
        conversation,
        DmEvent.EventType.PARTICIPANTS_JOIN,
        sender=creator,
        participant_ids=[u.x_id for u in [creator, *participants]],
    )
    return conversation, dm_send(sender=creator, conversation=conversation, text=text, media=media, app=app)


@transaction.atomic
def group_join(*, conversation: Conversation, user: XUser, added_by: XUser | None = None) -> DmEvent:
    membership, created = Membership.objects.get_or_create(
        conversation=conversation, user=user, defaults={"joined_at": clock.now()}
    )
    if not created and membership.left_at is None:
        raise problems.invalid_request(f"@{user.username} is already in this conversation.")
    membership.joined_at, membership.left_at = clock.now(), None
    membership.save(update_fields=["joined_at", "left_at"])
    return _event(
        conversation, DmEvent.EventType.PARTICIPANTS_JOIN, sender=added_by or user, participant_ids=[user.x_id]
    )


@transaction.atomic
def group_leave(*, conversation: Conversation, user: XUser) -> DmEvent:
    updated = Membership.objects.filter(conversation=conversation, user=user, left_at__isnull=True).update(
        left_at=clock.now()
    )
    if not updated:
        raise problems.invalid_request(f"@{user.username} is not in this conversation.")
    return _event(conversation, DmEvent.EventType.PARTICIPANTS_LEAVE, participant_ids=[user.x_id])


def post_create(*, author: XUser, text: str) -> Post:
    return Post.objects.create(post_id=str(ids.snowflake()), author=author, text=text[:1000], created_at=clock.now())
