"""v2 Direct Messages: send (x-api.md §2) and lookup (§3)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from twitter_channel.sandbox import clock, ids, problems, serialize, world
from twitter_channel.sandbox.api import Caller, Result, by_method, csv_param, endpoint, json_body, query
from twitter_channel.sandbox.models import Conversation, DmEvent, Media, XUser

USER_ID = re.compile(r"^[0-9]{1,19}$")
CONVERSATION_ID = re.compile(r"^([0-9]{1,19}-[0-9]{1,19}|[0-9]{15,19})$")
MEDIA_ID = re.compile(r"^[0-9]{1,19}$")
EVENT_ID = re.compile(r"^[0-9]{1,19}$")
WRITE = frozenset({"dm.write", "dm.read", "tweet.read", "users.read"})
READ = frozenset({"dm.read", "tweet.read", "users.read"})
DELETE = frozenset({"dm.read", "dm.write"})  # OA security of DELETE /2/dm_events/{event_id}
LOOKUP_PARAMS: dict[str, tuple[str, ...] | None] = {
    "max_results": None,
    "pagination_token": None,
    "event_types": serialize.EVENT_TYPES,
    "dm_event.fields": serialize.DM_EVENT_FIELDS,
    "expansions": serialize.EXPANSIONS,
    "media.fields": serialize.MEDIA_FIELDS,
    "user.fields": serialize.USER_FIELDS,
    "tweet.fields": serialize.TWEET_FIELDS,
}
HISTORY_WINDOW = timedelta(days=30)


def _base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _created(request: HttpRequest, event: DmEvent) -> Result:
    return Result(
        status=201,
        body={"data": {"dm_conversation_id": event.conversation.conversation_id, "dm_event_id": event.event_id}},
        # X really quotes the id in this header (recorded traffic).
        headers={"location": f'{_base_url(request)}/2/dm_events/"{event.event_id}"'},
    )


def _message(body: dict[str, Any]) -> tuple[str, Media | None]:
    """Validate ``{"text", "attachments"}`` as X's CreateMessageRequest."""
    unknown = set(body) - {"text", "attachments"}
    if unknown:
        raise problems.invalid_request(f"Unknown field(s) in the message: {', '.join(sorted(unknown))}.")
    text = body.get("text")
    attachments = body.get("attachments")
    if text is None and attachments is None:
        raise problems.invalid_request("A message needs `text` or `attachments`.")
    if text is not None and (not isinstance(text, str) or not text):
        raise problems.invalid_request("`text` must be a non-empty string.", {"text": [str(text)]})
    media = None
    if attachments is not None:
        if not isinstance(attachments, list) or len(attachments) != 1:
            raise problems.invalid_request("Only one attachment per message is supported.")
        item = attachments[0]
        media_id = item.get("media_id") if isinstance(item, dict) else None
        if not isinstance(media_id, str) or not MEDIA_ID.match(media_id):
            raise problems.invalid_request("`attachments[0].media_id` must be a numeric string.")
        media = Media.objects.filter(media_id=media_id).first()
        if media is None:
            raise problems.forbidden("You are not permitted to attach this media to a DM event.")
    return text or "", media


def _user(x_id: str, parameter: str) -> XUser:
    if not USER_ID.match(x_id):
        raise problems.invalid_request(
            f"The `{parameter}` value [{x_id}] does not match ^[0-9]{{1,19}}$", {parameter: [x_id]}
        )
    found = XUser.objects.filter(x_id=x_id).first()
    if found is None:
        raise problems.not_found("user", x_id, parameter)
    return found


@endpoint("dm_post", methods=("POST",), scopes=WRITE)
def send_with_participant(request: HttpRequest, caller: Caller, participant_id: str) -> Result:
    recipient = _user(participant_id, "participant_id")
    if recipient.pk == caller.user.pk:
        raise problems.invalid_request("You cannot send a direct message to yourself.")
    text, media = _message(json_body(request))
    conversation = world.conversation_one_to_one(caller.user, recipient)
    return _created(request, world.dm_send(sender=caller.user, conversation=conversation, text=text, media=media,
                                           app=caller.app))  # fmt: skip


@endpoint("dm_post", methods=("POST",), scopes=WRITE)
def send_to_conversation(request: HttpRequest, caller: Caller, conversation_id: str) -> Result:
    if not CONVERSATION_ID.match(conversation_id):
        raise problems.invalid_request(
            f"The `dm_conversation_id` value [{conversation_id}] is not a DM conversation id",
            {"dm_conversation_id": [conversation_id]},
        )
    conversation = Conversation.objects.filter(conversation_id=conversation_id).first()
    if conversation is None and "-" in conversation_id and caller.user.x_id in conversation_id.split("-"):
        other = next((i for i in conversation_id.split("-") if i != caller.user.x_id), None)
        if other is None:
            raise problems.invalid_request("You cannot send a direct message to yourself.")
        conversation = world.conversation_one_to_one(caller.user, _user(other, "dm_conversation_id"))
    if conversation is None:
        raise problems.not_found("dm_conversation", conversation_id, "dm_conversation_id")
    text, media = _message(json_body(request))
    return _created(request, world.dm_send(sender=caller.user, conversation=conversation, text=text, media=media,
                                           app=caller.app))  # fmt: skip


@endpoint("dm_post", methods=("POST",), scopes=WRITE)
def create_group(request: HttpRequest, caller: Caller) -> Result:
    body = json_body(request)
    unknown = set(body) - {"conversation_type", "participant_ids", "message"}
    if unknown:
        raise problems.invalid_request(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    if body.get("conversation_type") != "Group":
        raise problems.invalid_request(
            '`conversation_type` must be "Group".', {"conversation_type": [str(body.get("conversation_type"))]}
        )
    user_ids = body.get("participant_ids")
    if not isinstance(user_ids, list) or not 2 <= len(user_ids) <= 49 or not all(isinstance(i, str) for i in user_ids):
        raise problems.invalid_request("`participant_ids` must list 2 to 49 user ids (strings), without yourself.")
    if caller.user.x_id in user_ids or len(set(user_ids)) != len(user_ids):
        raise problems.invalid_request("`participant_ids` must not repeat ids or include the sender.")
    participants = [_user(i, "participant_ids") for i in user_ids]
    message = body.get("message")
    if not isinstance(message, dict):
        raise problems.invalid_request("`message` must be an object with `text` and/or `attachments`.")
    text, media = _message(message)
    _, event = world.group_create(creator=caller.user, participants=participants, text=text, media=media,
                                  app=caller.app)  # fmt: skip
    return _created(request, event)


def _page(request: HttpRequest, caller: Caller, events: QuerySet[DmEvent]) -> Result:
    params = query(request, LOOKUP_PARAMS)
    value = params.get("max_results", "100")
    try:
        max_results = int(value)
    except ValueError:
        max_results = 0
    if not 1 <= max_results <= 100:
        raise problems.invalid_request(
            f"The `max_results` query parameter value [{value}] is not between 1 and 100", {"max_results": [value]}
        )
    event_types = csv_param(params, "event_types") or list(serialize.EVENT_TYPES)
    events = events.filter(event_type__in=event_types).select_related("sender", "media", "conversation")
    token = params.get("pagination_token")
    if token:
        seq, forward = serialize.parse_page_token(token)
        if forward:
            page = list(events.filter(seq__lt=seq).order_by("-seq")[:max_results])
        else:
            page = list(events.filter(seq__gt=seq).order_by("seq")[:max_results])[::-1]
    else:
        page = list(events.order_by("-seq")[:max_results])
    if not page:
        return Result({"meta": {"result_count": 0}})
    fields = csv_param(params, "dm_event.fields")
    body: dict[str, Any] = {"data": [serialize.dm_event(e, fields) for e in page]}
    found = serialize.includes(page, csv_param(params, "expansions"), params, caller.user, _base_url(request))
    if found:
        body["includes"] = found
    body["meta"] = {
        "result_count": len(page),
        "next_token": serialize.page_token(page[-1].seq, forward=True),
        "previous_token": serialize.page_token(page[0].seq, forward=False),
    }
    return Result(body)


def _visible(user: XUser) -> QuerySet[DmEvent]:
    """The events of ``user``'s conversations, without those ``user`` deleted."""
    return DmEvent.objects.filter(conversation__memberships__user=user).exclude(deletions__user=user)


@endpoint("dm_get", methods=("GET",), scopes=READ)
def list_events(request: HttpRequest, caller: Caller) -> Result:
    recent = _visible(caller.user).filter(created_at__gte=clock.now() - HISTORY_WINDOW)
    return _page(request, caller, recent)


@endpoint("dm_get", methods=("GET",), scopes=READ)
def list_with_participant(request: HttpRequest, caller: Caller, participant_id: str) -> Result:
    other = _user(participant_id, "participant_id")
    conversation_id = ids.one_to_one_conversation_id(other.x_id, caller.user.x_id)
    return _page(request, caller, _visible(caller.user).filter(conversation__conversation_id=conversation_id))


@endpoint("dm_get", methods=("GET",), scopes=READ)
def list_conversation(request: HttpRequest, caller: Caller, conversation_id: str) -> Result:
    conversation = Conversation.objects.filter(conversation_id=conversation_id).first()
    if conversation is None:
        raise problems.not_found("dm_conversation", conversation_id, "id")
    if not conversation.memberships.filter(user=caller.user).exists():
        raise problems.forbidden("You are not a participant of this conversation.")
    return _page(request, caller, conversation.events.exclude(deletions__user=caller.user))


@endpoint("dm_event_get", methods=("GET",), scopes=READ)
def get_event(request: HttpRequest, caller: Caller, event_id: str) -> Result:
    params = query(request, {k: v for k, v in LOOKUP_PARAMS.items() if k not in ("max_results", "pagination_token",
                                                                                     "event_types")})  # fmt: skip
    event = _visible(caller.user).select_related("sender", "media", "conversation").filter(event_id=event_id).first()
    if event is None:
        raise problems.not_found("dm_event", event_id, "event_id")
    body: dict[str, Any] = {"data": serialize.dm_event(event, csv_param(params, "dm_event.fields"))}
    found = serialize.includes([event], csv_param(params, "expansions"), params, caller.user, _base_url(request))
    if found:
        body["includes"] = found
    return Result(body)


@endpoint("dm_event_delete", methods=("DELETE",), scopes=DELETE)
def delete_event(request: HttpRequest, caller: Caller, event_id: str) -> Result:
    """Delete one of the caller's own messages, from the caller's view only (v1.1 semantics, x-api.md §2.1)."""
    query(request, {})
    if not EVENT_ID.match(event_id):
        raise problems.invalid_request(
            f"The `event_id` value [{event_id}] does not match ^[0-9]{{1,19}}$", {"event_id": [event_id]}
        )
    event = _visible(caller.user).filter(event_id=event_id).first()
    if event is None:
        raise problems.not_found("dm_event", event_id, "event_id")
    world.dm_event_delete(event=event, user=caller.user)
    return Result({"data": {"deleted": True}})


event = by_method(GET=get_event, DELETE=delete_event)
