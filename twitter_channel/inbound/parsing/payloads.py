"""X's DM payloads -> the inbox's normalized events (``inbox.dm_events``).

Three families of JSON come in, and every event in them is read (never just the first):

- webhook bodies (``parse_webhook_payload``): Account Activity (``{"for_user_id", "direct_message_events":
  [...], "users", "apps"}``, one event family per body) and X Activity envelopes (``{"data": {"event_type":
  "dm.received", "filter": {"user_id"}, "payload": {...same families...}}}``). An AAA ``user_event``
  ``revoke`` (a user took our app's access away; the body has no ``for_user_id``) becomes an
  ``AppRevocation`` in ``revocations`` (x-api.md §7.7);
- v2 lookups (``read_lookup_page``, the reader ``XClient``'s lookups are given; ``parse_v2_page``,
  ``parse_v2_event``): ``GET /2/dm_events`` and the per-conversation lists;
- v1.1 ``direct_messages/events`` bodies (``parse_v1_page``, ``parse_v1_event``), same objects as AAA.

Malformed input, the rule ("keep what is right"):

- ``PayloadError`` is raised only when the body as a whole is not what X sends: not an object, an event
  family or ``users``/``apps``/``includes``/``data`` of the wrong type, a non-numeric ``for_user_id``.
- One malformed event is left out and its ``PayloadError`` message (with the path, e.g.
  ``direct_message_events[1].message_create.sender_id: missing``) goes to ``rejected``; the other events
  are kept. One malformed profile in ``users``/``includes.users`` is left out the same way and the
  events keep their other profiles. The unit of rejection is one event or one profile: a bad entity
  or attachment rejects its whole event rather than storing it half-read.
- A family or event kind that is well formed but not handled (``tweet_delete_events``, ``favorite_events``,
  a ``user_event`` other than ``revoke`` as ``user_event:<kind>``, X Activity ``profile.update.bio``, a
  ``direct_message_events`` item of another ``type``) is named in ``ignored``, without error.

U+0000, which PostgreSQL cannot store in text or jsonb, and UTF-16 surrogates left unpaired (``\\ud800``, or a
pair in the wrong order), which cannot be encoded as UTF-8, are replaced by U+FFFD in every string of the input
(keys included) before it is read (``x.json_fields.storable_json``), so no string handed on, nor any note
naming a key or a kind, carries them. JSON nested deeper than ``MAX_JSON_DEPTH`` is a ``PayloadError``.

v2 events are only usable with ``dm_conversation_id``, ``created_at`` and (for messages) ``sender_id``,
which X returns only when asked for: ``XClient`` asks for them (``x.results.LOOKUP_FIELDS``); X's default
fields are rejected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from inbox.dm_events import DmEvent, DmEventType, ReadEvent, TypingEvent, XUserProfile
from twitter_channel.inbound.parsing import v1 as parsing_v1
from twitter_channel.inbound.parsing import v2 as parsing_v2
from twitter_channel.inbound.parsing.profiles import users_map
from twitter_channel.x.json_fields import (
    PayloadError,
    as_list,
    as_object,
    at,
    iso_timestamp,
    one_to_one_conversation_id,
    opt_id,
    opt_object,
    req_id,
    req_object,
    req_str,
    storable_json,
)
from twitter_channel.x.rate_limits import RateLimit
from twitter_channel.x.results import DmEventList

__all__ = [
    "AppRevocation",
    "LookupPage",
    "ParsedDelivery",
    "ParsedPage",
    "PayloadError",
    "one_to_one_conversation_id",
    "parse_v1_event",
    "parse_v1_page",
    "parse_v2_event",
    "parse_v2_page",
    "parse_v2_page_detailed",
    "parse_webhook_payload",
    "read_lookup_page",
]

log = logging.getLogger(__name__)

MESSAGES = "direct_message_events"
TYPING = "direct_message_indicate_typing_events"
READS = "direct_message_mark_read_events"
USER_EVENT = "user_event"
# Keys of an AAA body that travel with the event families rather than being one.
_COMPANIONS = frozenset({"for_user_id", "users", "apps", "user_has_blocked"})
_NO_PROFILES: Mapping[str, XUserProfile] = {}
_Signal = TypeVar("_Signal", TypingEvent, ReadEvent)


@dataclass(frozen=True)
class AppRevocation:
    """X user ``x_user_id`` revoked the access of app ``app_id`` (None when X did not say) at ``revoked_at``."""

    x_user_id: str
    app_id: str | None
    revoked_at: datetime


@dataclass(frozen=True)
class ParsedDelivery:
    """One webhook POST, read in full.

    ``for_user_id`` is the subscribed account (AAA ``for_user_id``, X Activity ``data.filter.user_id``);
    None when the body names none (``user_event``). ``revocations`` are the ``user_event`` ``revoke``s;
    the revoking user is their ``x_user_id``. ``ignored`` names what was present but not handled,
    ``rejected`` the malformed events and profiles that were left out (see the module docstring).
    """

    for_user_id: str | None
    dm_events: tuple[DmEvent, ...] = ()
    typing: tuple[TypingEvent, ...] = ()
    reads: tuple[ReadEvent, ...] = ()
    ignored: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    revocations: tuple[AppRevocation, ...] = ()


@dataclass(frozen=True)
class ParsedPage:
    """A page of a lookup (v2 ``dm_events`` or v1.1 ``direct_messages/events``), in X's order."""

    dm_events: tuple[DmEvent, ...] = ()
    ignored: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()


# -- webhooks -------------------------------------------------------------------------------------


def parse_webhook_payload(payload: Mapping[str, Any]) -> ParsedDelivery:
    """Every DM, typing, read and revoke event of an Account Activity body or an X Activity envelope."""
    body = as_object(storable_json(payload), "")
    if "data" in body and not any(key in body for key in (MESSAGES, TYPING, READS, "for_user_id")):
        return _activity_envelope(body)
    return _families(body, "", for_user_id=opt_id(body, "for_user_id", ""))


def _activity_envelope(body: Mapping[str, Any]) -> ParsedDelivery:
    data = req_object(body, "data", "")
    event_type = req_str(data, "event_type", "data")
    filters = opt_object(data, "filter", "data") or {}
    for_user_id = opt_id(filters, "user_id", "data.filter")
    if not event_type.startswith("dm."):
        return ParsedDelivery(for_user_id=for_user_id, ignored=(event_type,))
    payload = req_object(data, "payload", "data")
    return _families(payload, "data.payload", for_user_id=for_user_id or opt_id(payload, "for_user_id", "data.payload"))


def _families(body: Mapping[str, Any], path: str, *, for_user_id: str | None) -> ParsedDelivery:
    rejected: list[str] = []
    users = users_map(body.get("users"), at(path, "users"), rejected)
    apps = opt_object(body, "apps", path)
    dm_events: list[DmEvent] = []
    typing: list[TypingEvent] = []
    reads: list[ReadEvent] = []
    revocations: list[AppRevocation] = []
    ignored: dict[str, None] = {}
    for key, value in body.items():
        family_path = at(path, str(key))
        if key in _COMPANIONS:
            continue
        if key == MESSAGES:
            found = _messages(_indexed(as_list(value, family_path), family_path), MESSAGES, users, apps, rejected)
            dm_events.extend(found.dm_events)
            ignored.update(dict.fromkeys(found.ignored))
        elif key == TYPING:
            typing.extend(_each(as_list(value, family_path), family_path, parsing_v1.typing, users, rejected))
        elif key == READS:
            reads.extend(_each(as_list(value, family_path), family_path, parsing_v1.read, users, rejected))
        elif key == USER_EVENT:
            revocations.extend(_user_event(as_object(value, family_path), family_path, ignored, rejected))
        else:
            ignored[str(key)] = None
    return ParsedDelivery(
        for_user_id=for_user_id,
        dm_events=tuple(dm_events),
        typing=tuple(typing),
        reads=tuple(reads),
        ignored=tuple(ignored),
        rejected=tuple(rejected),
        revocations=tuple(revocations),
    )


def _user_event(
    event: Mapping[str, Any], path: str, ignored: dict[str, None], rejected: list[str]
) -> list[AppRevocation]:
    """The ``revoke``s of a ``user_event`` object (keyed by kind); other kinds are named in ``ignored``."""
    if not event:
        ignored[USER_EVENT] = None
    revocations: list[AppRevocation] = []
    for kind, value in event.items():
        if kind != "revoke":
            ignored[f"{USER_EVENT}:{kind}"] = None
            continue
        try:
            revocations.append(_revoke(value, at(path, kind)))
        except PayloadError as exc:
            rejected.append(str(exc))
    return revocations


def _revoke(raw: object, path: str) -> AppRevocation:
    """``{"date_time": "2018-05-24T09:48:12+00:00", "target": {"app_id"}, "source": {"user_id"}}``."""
    revoke = as_object(raw, path)
    source = req_object(revoke, "source", path)
    target = opt_object(revoke, "target", path) or {}
    return AppRevocation(
        x_user_id=req_id(source, "user_id", at(path, "source")),
        app_id=opt_id(target, "app_id", at(path, "target")),
        revoked_at=iso_timestamp(revoke, "date_time", path),
    )


def _each(
    items: Iterable[object],
    path: str,
    parse: Callable[..., _Signal],
    users: Mapping[str, XUserProfile],
    rejected: list[str],
) -> list[_Signal]:
    parsed: list[_Signal] = []
    for i, item in enumerate(items):
        try:
            parsed.append(parse(item, at(path, i), users=users))
        except PayloadError as exc:
            rejected.append(str(exc))
    return parsed


def _messages(
    items: Iterable[tuple[object, str]],
    family: str,
    users: Mapping[str, XUserProfile],
    apps: Mapping[str, Any] | None,
    rejected: list[str],
) -> ParsedPage:
    """``message_create`` items of a ``direct_message_events``/``events`` list; other types are ignored."""
    events: list[DmEvent] = []
    ignored: dict[str, None] = {}
    for item, item_path in items:
        try:
            kind = req_str(as_object(item, item_path), "type", item_path)
            if kind != "message_create":
                ignored[f"{family}:{kind}"] = None
                continue
            events.append(parsing_v1.message_create(item, item_path, users=users, apps=apps))
        except PayloadError as exc:
            rejected.append(str(exc))
    return ParsedPage(dm_events=tuple(events), ignored=tuple(ignored))


def _indexed(items: Iterable[object], path: str) -> list[tuple[object, str]]:
    return [(item, at(path, i)) for i, item in enumerate(items)]


# -- v1.1 lookups ---------------------------------------------------------------------------------


def parse_v1_event(
    raw_event: Mapping[str, Any], *, users: Mapping[str, Any] | None = None, apps: Mapping[str, Any] | None = None
) -> DmEvent:
    """One v1.1 ``message_create`` event; ``users``/``apps`` are the body's raw maps, if it had them."""
    profiles = users_map(storable_json(users), "users", []) if users is not None else _NO_PROFILES
    return parsing_v1.message_create(storable_json(raw_event), "", users=profiles, apps=storable_json(apps))


def parse_v1_page(body: Mapping[str, Any]) -> ParsedPage:
    """A ``direct_messages/events/list.json`` body (``events``), or ``show``/``new`` (``event``)."""
    root = as_object(storable_json(body), "")
    apps = opt_object(root, "apps", "")
    rejected: list[str] = []
    users = users_map(root.get("users"), "users", rejected)
    if "event" in root and "events" not in root:
        items = [(root["event"], "event")]
    else:
        items = _indexed(as_list(root.get("events", []), "events"), "events")
    found = _messages(items, "events", users, apps, rejected)
    return ParsedPage(dm_events=found.dm_events, ignored=found.ignored, rejected=tuple(rejected))


# -- v2 lookups -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LookupPage:
    """A page of a v2 lookup as ``XClient`` fetched it, its events read once, for the inbox.

    ``dm_events``, ``ignored`` and ``rejected`` as in ``ParsedPage``; ``listed`` (how many items X listed,
    read or not), ``result_count`` and ``next_token`` are what paging needs; ``rate_limit`` X's headers.
    """

    dm_events: tuple[DmEvent, ...]
    ignored: tuple[str, ...]
    rejected: tuple[str, ...]
    listed: int
    result_count: int
    next_token: str | None
    rate_limit: RateLimit


def read_lookup_page(body: Any, rate_limit: RateLimit, *, single: bool = False) -> LookupPage:
    """The reader to give ``XClient``'s lookups (``read=``): the page as X sent it (``DmEventList``: what
    is not a page raises ``PayloadError``, which the client reports as ``MalformedResponse``), then its
    events and ``includes`` by ``parsing.v2``, a malformed one left out and named in ``rejected``."""
    found = DmEventList.from_json(storable_json(body), rate_limit, single=single)
    parsed = _v2_events(found.items, found.includes)
    return LookupPage(
        dm_events=parsed.dm_events,
        ignored=parsed.ignored,
        rejected=parsed.rejected,
        listed=found.listed,
        result_count=found.result_count,
        next_token=found.next_token,
        rate_limit=rate_limit,
    )


def parse_v2_event(raw_event: Mapping[str, Any], *, includes: Mapping[str, Any]) -> DmEvent:
    """One v2 ``dm_events`` item, with its page's ``includes`` (``users``, ``media``, ``tweets``)."""
    indexed = parsing_v2.index_includes(storable_json(includes))
    for problem in indexed.rejected:
        log.warning("Left out a malformed include: %s", problem)
    return parsing_v2.dm_event(storable_json(raw_event), "", indexed)


def parse_v2_page(body: Mapping[str, Any]) -> tuple[DmEvent, ...]:
    """The events of a v2 lookup body; malformed ones are logged and left out (see ``parse_v2_page_detailed``)."""
    page = parse_v2_page_detailed(body)
    for problem in page.rejected:
        log.warning("Left out part of a DM events page X sent in a shape we do not understand: %s", problem)
    return page.dm_events


def parse_v2_page_detailed(body: Mapping[str, Any]) -> ParsedPage:
    """A v2 lookup body: ``data`` (a list, or one object for ``GET /2/dm_events/:id``) with ``includes``.

    An empty page (``{"meta": {"result_count": 0}}``, no ``data``) has no events.
    """
    root = as_object(storable_json(body), "")
    if "data" not in root:
        return _v2_events((), root.get("includes"))
    data = root["data"]
    items = [(data, "data")] if isinstance(data, Mapping) else _indexed(as_list(data, "data"), "data")
    return _v2_events(items, root.get("includes"))


def _v2_events(items: Iterable[tuple[object, str]], raw_includes: object) -> ParsedPage:
    """Each item read once by ``parsing.v2`` with the page's ``includes`` (indexed once); kinds not handled
    are named in ``ignored``, malformed items and includes in ``rejected``."""
    includes = parsing_v2.index_includes(raw_includes)
    known = {t.value for t in DmEventType}
    events: list[DmEvent] = []
    ignored: dict[str, None] = {}
    rejected = list(includes.rejected)
    for item, path in items:
        try:
            kind = parsing_v2.event_type(as_object(item, path), path)
            if kind not in known:
                ignored[f"dm_events:{kind}"] = None
                continue
            events.append(parsing_v2.dm_event(item, path, includes))
        except PayloadError as exc:
            rejected.append(str(exc))
    return ParsedPage(dm_events=tuple(events), ignored=tuple(ignored), rejected=tuple(rejected))
