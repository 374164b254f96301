"""The customer simulator's actions: a person acting as a sandbox user, talking to business accounts.

Views in ``views/simulator.py`` parse requests and render; everything else is here. Mistakes a
person can make raise ``ValueError`` (shown with status 400), ``NotFound`` (404) or a ``Problem``
from ``world`` (its status).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction

from twitter_channel.sandbox import mediastore, problems, world
from twitter_channel.sandbox.models import Conversation, DmEvent, Media, Membership, XUser

MAX_GROUP_OTHERS = 49
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class NotFound(Exception):
    """An unknown user, conversation or media, or one the acting user may not see."""


@dataclass(frozen=True)
class EventView:
    event: DmEvent
    mine: bool
    sender: XUser | None
    participants: list[XUser]

    @property
    def is_message(self) -> bool:
        return self.event.event_type == DmEvent.EventType.MESSAGE_CREATE

    @property
    def is_join(self) -> bool:
        return self.event.event_type == DmEvent.EventType.PARTICIPANTS_JOIN

    @property
    def media_is_gif(self) -> bool:
        return self.event.media is not None and self.event.media.media_type == "image/gif"


@dataclass(frozen=True)
class Summary:
    conversation: Conversation
    title: str
    active: bool
    last_message: DmEvent | None

    @property
    def is_group(self) -> bool:
        return self.conversation.kind == Conversation.Kind.GROUP


@dataclass(frozen=True)
class QuickReply:
    event: DmEvent
    options: list[dict[str, Any]]


def _clean(text: str) -> str:
    """Browsers send textarea line breaks as CRLF; X's DMs carry LF."""
    return text.replace("\r\n", "\n")


def problem_message(problem: problems.Problem) -> str:
    errors = problem.body.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return str(first.get("message") or first.get("detail") or problem.body.get("detail") or problem)


def acting_user(username: str) -> XUser:
    user = XUser.objects.filter(username__iexact=username).first()
    if user is None:
        raise NotFound(f"There is no sandbox user @{username}.")
    return user


def users_for_home() -> list[XUser]:
    return list(XUser.objects.order_by("-is_business", "username"))


def others(user: XUser) -> list[XUser]:
    return list(XUser.objects.exclude(pk=user.pk).order_by("-is_business", "name"))


def create_user(*, username: str, name: str, avatar_url: str, is_business: bool) -> XUser:
    username, avatar_url = username.strip().lstrip("@"), avatar_url.strip()
    if not username:
        raise ValueError("username: required")
    if avatar_url:
        try:
            URLValidator(schemes=["http", "https"])(avatar_url)
        except ValidationError as exc:
            raise ValueError("avatar URL: enter an http(s) address, or leave it empty") from exc
    return world.user_create(
        username=username, name=name.strip() or username, is_business=is_business, profile_image_url=avatar_url
    )


def _members(conversation: Conversation, *, active: bool = True) -> list[XUser]:
    memberships = conversation.memberships.select_related("user").order_by("joined_at", "pk")
    if active:
        memberships = memberships.filter(left_at__isnull=True)
    return [m.user for m in memberships]


def _title(conversation: Conversation, viewer: XUser) -> str:
    people = [u for u in _members(conversation, active=False) if u.pk != viewer.pk]
    if conversation.kind == Conversation.Kind.ONE_TO_ONE:
        other = people[0] if people else viewer
        return f"{other.name} (@{other.username})"
    names = [u.name for u in _members(conversation) if u.pk != viewer.pk]
    return "Group: " + (", ".join(names) or "nobody else")


def _summary(conversation: Conversation, viewer: XUser, active: bool) -> Summary:
    last = (
        conversation.events.filter(event_type=DmEvent.EventType.MESSAGE_CREATE)
        .exclude(deletions__user=viewer)
        .select_related("sender", "media")
        .order_by("-seq")
        .first()
    )
    return Summary(conversation, _title(conversation, viewer), active, last)


def _latest_seq(summary: Summary) -> int:
    last = summary.conversation.events.order_by("-seq").values_list("seq", flat=True).first()
    return last or 0


def conversations(user: XUser) -> list[Summary]:
    """The user's conversations, groups they left included, most recently active first."""
    memberships = Membership.objects.filter(user=user).select_related("conversation")
    summaries = [_summary(m.conversation, user, m.left_at is None) for m in memberships]
    return sorted(summaries, key=_latest_seq, reverse=True)


def joinable_groups(user: XUser) -> list[Summary]:
    """Groups the user is not in (any more): in the sandbox anyone may join any group."""
    inside = Membership.objects.filter(user=user, left_at__isnull=True).values("conversation")
    groups = Conversation.objects.filter(kind=Conversation.Kind.GROUP).exclude(pk__in=inside).order_by("-created_at")
    return [_summary(c, user, False) for c in groups]


def conversation_for(user: XUser, conversation_id: str) -> tuple[Conversation, bool]:
    """The conversation and whether ``user`` is in it now; ``NotFound`` unless they ever were."""
    membership = (
        Membership.objects.filter(user=user, conversation__conversation_id=conversation_id)
        .select_related("conversation")
        .first()
    )
    if membership is None:
        raise NotFound(f"@{user.username} is not in a conversation {conversation_id}.")
    return membership.conversation, membership.left_at is None


def title(conversation: Conversation, viewer: XUser) -> str:
    return _title(conversation, viewer)


def event_views(user: XUser, events: list[DmEvent]) -> list[EventView]:
    wanted = {x_id for e in events for x_id in e.participant_ids}
    people = {u.x_id: u for u in XUser.objects.filter(x_id__in=wanted)}
    return [
        EventView(
            event=e,
            mine=e.sender_id == user.pk and e.event_type == DmEvent.EventType.MESSAGE_CREATE,
            sender=e.sender,
            participants=[people[x] for x in e.participant_ids if x in people],
        )
        for e in events
    ]


def events_after(user: XUser, conversation: Conversation, after: int = 0) -> list[EventView]:
    """The thread's events newer than ``after`` (a ``seq``), oldest first; not those ``user`` deleted."""
    events = conversation.events.filter(seq__gt=after).exclude(deletions__user=user)
    events = events.select_related("sender", "media").order_by("seq")
    return event_views(user, list(events))


def _options(quick_reply: object) -> list[dict[str, Any]]:
    if not isinstance(quick_reply, dict) or quick_reply.get("type") != "options":
        return []
    options = quick_reply.get("options")
    if not isinstance(options, list):
        return []
    return [o for o in options if isinstance(o, dict) and isinstance(o.get("label"), str) and o["label"]]


def pending_quick_reply(user: XUser, conversation: Conversation) -> QuickReply | None:
    """Options offered by the latest business message, until the user has written after it."""
    messages = conversation.events.filter(event_type=DmEvent.EventType.MESSAGE_CREATE)
    latest = messages.filter(sender__is_business=True).exclude(sender=user).order_by("-seq").first()
    if latest is None or messages.filter(sender=user, seq__gt=latest.seq).exists():
        return None
    options = _options(latest.quick_reply)
    return QuickReply(latest, options) if options else None


def _image_mime(data: bytes) -> str:
    for signature, mime in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError("attachment: choose a PNG, JPEG, WebP or GIF image")


def _upload(user: XUser, upload: UploadedFile) -> Media:
    data = upload.read()
    mime = _image_mime(data)
    category = "dm_gif" if mime == "image/gif" else "dm_image"
    return mediastore.media_create_complete(owner=user, data=data, mime=mime, category=category)


@transaction.atomic
def send(user: XUser, conversation: Conversation, text: str, upload: UploadedFile | None = None) -> DmEvent:
    if not text.strip() and upload is None:
        raise ValueError("Write a message or attach an image.")
    media = _upload(user, upload) if upload is not None else None
    return world.dm_send(sender=user, conversation=conversation, text=_clean(text), media=media)


def answer_quick_reply(user: XUser, conversation: Conversation, event_id: str, index: str | None) -> DmEvent:
    """Send option ``index``'s label, echoing its metadata as X does in ``quick_reply_response``."""
    pending = pending_quick_reply(user, conversation)
    if pending is None or pending.event.event_id != event_id:
        raise ValueError("Those options are no longer offered.")
    if index is None or not index.isdigit() or int(index) >= len(pending.options):
        raise ValueError("Pick one of the offered options.")
    option = pending.options[int(index)]
    response: dict[str, Any] = {"type": "options"}
    if "metadata" in option:
        response["metadata"] = option["metadata"]
    return world.dm_send(sender=user, conversation=conversation, text=option["label"], quick_reply_response=response)


def _other(user: XUser, username: str) -> XUser:
    other = XUser.objects.filter(username__iexact=username).first()
    if other is None:
        raise ValueError(f"There is no sandbox user @{username}.")
    if other.pk == user.pk:
        raise ValueError("You cannot send a direct message to yourself.")
    return other


@transaction.atomic
def start_dm(user: XUser, username: str, text: str = "") -> Conversation:
    conversation = world.conversation_one_to_one(user, _other(user, username))
    if text.strip():
        world.dm_send(sender=user, conversation=conversation, text=_clean(text))
    return conversation


def create_group(user: XUser, usernames: list[str], text: str) -> Conversation:
    people = {u.pk: u for u in (_other(user, name) for name in usernames)}
    if not 2 <= len(people) <= MAX_GROUP_OTHERS:
        raise ValueError(f"A group needs 2 to {MAX_GROUP_OTHERS} other people.")
    if not text.strip():
        raise ValueError("A group starts with a message: write one.")
    conversation, _ = world.group_create(
        creator=user, participants=list(people.values()), text=_clean(text), media=None, app=None
    )
    return conversation


def _group(conversation_id: str) -> Conversation:
    conversation = Conversation.objects.filter(conversation_id=conversation_id, kind=Conversation.Kind.GROUP).first()
    if conversation is None:
        raise NotFound(f"There is no group conversation {conversation_id}.")
    return conversation


def join(user: XUser, conversation_id: str) -> Conversation:
    conversation = _group(conversation_id)
    world.group_join(conversation=conversation, user=user)
    return conversation


def leave(user: XUser, conversation_id: str) -> Conversation:
    conversation = _group(conversation_id)
    world.group_leave(conversation=conversation, user=user)
    return conversation


def recipient(recipient_id: str) -> XUser:
    if not recipient_id:
        raise NotFound("This link names no recipient: it needs ?recipient_id=<the business account's user id>.")
    user = XUser.objects.filter(x_id=recipient_id).first() if recipient_id.isdigit() else None
    if user is None:
        raise NotFound(f"No sandbox user has the id {recipient_id!r}, so there is nobody to write to.")
    return user


@transaction.atomic
def compose_send(*, sender: str, to: XUser, text: str, welcome_message_id: str = "") -> tuple[XUser, DmEvent]:
    """The deep link's form: open (or reopen) the one-to-one conversation and send the message, with its sender."""
    if not text.strip():
        raise ValueError("Write a message.")
    user = XUser.objects.filter(username__iexact=sender).first()
    if user is None:
        raise ValueError("Choose who you are.")
    conversation = world.conversation_one_to_one(user, _other(user, to.username))
    via = {"welcome_message_id": welcome_message_id} if welcome_message_id else None
    return user, world.dm_send(sender=user, conversation=conversation, text=_clean(text), initiated_via=via)


def readable_media(user: XUser, media_id: str) -> Media:
    try:
        return mediastore.readable(user, media_id)
    except problems.Problem as problem:
        raise NotFound(problem_message(problem)) from problem
