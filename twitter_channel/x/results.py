"""What ``XClient`` returns: frozen dataclasses built from X's JSON. No Django in here.

The ``from_json`` constructors read with ``json_fields``: strict about the keys a caller relies on (ids,
types of values) and tolerant of the rest (display fields, counts). A body that breaks the strict part
raises ``PayloadError`` naming where (``includes.users[0].username: missing``), which the client turns
into ``MalformedResponse``. Objects keep X's JSON in ``raw``.

A DM events lookup is read in two steps: ``DmEventList`` (what paging needs, the events still X's JSON),
then a reader of its events: ``DmEventPage`` here, or the caller's own (``XClient``'s ``read=``), so that
the inbox's parser reads each event once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from twitter_channel.x.json_fields import (
    PayloadError,
    as_object,
    at,
    bool_or_none,
    errors_of,
    ident_list,
    iso_time,
    list_items,
    opt_ident,
    opt_object,
    req_bool,
    req_ident,
    req_object,
    req_str,
    str_or_none,
    to_int,
)
from twitter_channel.x.rate_limits import RateLimit

# What XClient asks for on every lookup. All are OA 2.159 enum values (a test checks them against
# openapi_dm_excerpt.json). Left out: media metrics only the media's owner may read, and user/post fields
# no reader reads (X, and the sandbox, accept every OA value, but each one asked for is more to fetch and send).
USER_FIELDS = (
    "connection_status,created_at,description,entities,id,location,most_recent_tweet_id,name,pinned_tweet_id,"
    "profile_image_url,protected,public_metrics,receives_your_dm,url,username,verified,verified_type,withheld"
)
LOOKUP_FIELDS = {
    "dm_event.fields": "attachments,created_at,dm_conversation_id,entities,event_type,id,participant_ids,"
    "referenced_tweets,sender_id,text",
    "expansions": "attachments.media_keys,participant_ids,referenced_tweets.id,sender_id",
    "media.fields": "alt_text,duration_ms,height,media_key,preview_image_url,public_metrics,type,url,variants,width",
    "user.fields": USER_FIELDS,
    "tweet.fields": "author_id,conversation_id,created_at,id,lang,public_metrics,text",
}


# --- objects -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XUser:
    id: str
    username: str
    name: str
    profile_image_url: str | None = None
    description: str | None = None
    location: str | None = None
    url: str | None = None
    verified: bool | None = None
    protected: bool | None = None
    followers_count: int | None = None
    receives_your_dm: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: Any, path: str = "") -> XUser:
        raw = as_object(raw, path)
        metrics = raw.get("public_metrics")
        return cls(
            id=req_ident(raw, "id", path),
            username=req_str(raw, "username", path),
            name=req_str(raw, "name", path),
            profile_image_url=str_or_none(raw, "profile_image_url"),
            description=str_or_none(raw, "description"),
            location=str_or_none(raw, "location"),
            url=str_or_none(raw, "url"),
            verified=bool_or_none(raw, "verified"),
            protected=bool_or_none(raw, "protected"),
            followers_count=to_int(metrics.get("followers_count")) if isinstance(metrics, dict) else None,
            receives_your_dm=bool_or_none(raw, "receives_your_dm"),
            raw=raw,
        )


@dataclass(frozen=True)
class XMedia:
    media_key: str
    type: str = ""
    url: str | None = None
    preview_image_url: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    alt_text: str | None = None
    variants: tuple[dict[str, Any], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: Any, path: str = "") -> XMedia:
        raw = as_object(raw, path)
        variants = raw.get("variants")
        return cls(
            media_key=req_str(raw, "media_key", path),
            type=str_or_none(raw, "type") or "",
            url=str_or_none(raw, "url"),
            preview_image_url=str_or_none(raw, "preview_image_url"),
            width=to_int(raw.get("width")),
            height=to_int(raw.get("height")),
            duration_ms=to_int(raw.get("duration_ms")),
            alt_text=str_or_none(raw, "alt_text"),
            variants=tuple(v for v in variants if isinstance(v, dict)) if isinstance(variants, list) else (),
            raw=raw,
        )


@dataclass(frozen=True)
class XPost:
    id: str
    text: str = ""
    author_id: str | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: Any, path: str = "") -> XPost:
        raw = as_object(raw, path)
        return cls(
            id=req_ident(raw, "id", path),
            text=str_or_none(raw, "text") or "",
            author_id=opt_ident(raw, "author_id", path),
            created_at=iso_time(raw.get("created_at")),
            raw=raw,
        )


ENTITY_KINDS = ("hashtags", "cashtags", "mentions", "urls")


@dataclass(frozen=True)
class XDmEvent:
    id: str
    event_type: str
    text: str = ""
    sender_id: str | None = None
    dm_conversation_id: str | None = None
    created_at: datetime | None = None
    participant_ids: tuple[str, ...] = ()
    media_keys: tuple[str, ...] = ()
    referenced_post_ids: tuple[str, ...] = ()
    entities: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    sender: XUser | None = None
    participants: tuple[XUser, ...] = ()
    media: tuple[XMedia, ...] = ()
    referenced_posts: tuple[XPost, ...] = ()

    @classmethod
    def from_json(
        cls,
        raw: Any,
        users: Mapping[str, XUser] | None = None,
        media: Mapping[str, XMedia] | None = None,
        posts: Mapping[str, XPost] | None = None,
        path: str = "",
    ) -> XDmEvent:
        """One DM event; ``users``/``media``/``posts`` (the page's ``includes``) resolve its references."""
        users, media, posts = users or {}, media or {}, posts or {}
        raw = as_object(raw, path)
        attachments = opt_object(raw, "attachments", path)
        media_keys = ident_list(attachments, "media_keys", at(path, "attachments")) if attachments is not None else ()
        # OA 2.159 (and every capture) says referenced_tweets; OA 2.167 renames it referenced_posts.
        references = "referenced_tweets" if "referenced_tweets" in raw else "referenced_posts"
        post_ids = tuple(req_ident(as_object(r, where), "id", where) for r, where in list_items(raw, references, path))
        entities = raw.get("entities")
        if not isinstance(entities, dict):
            # OA 2.159 lists the entity arrays flat on the event; OA 2.167 nests them in `entities`.
            entities = {kind: raw[kind] for kind in ENTITY_KINDS if isinstance(raw.get(kind), list)}
        sender_id = opt_ident(raw, "sender_id", path)
        participant_ids = ident_list(raw, "participant_ids", path)
        return cls(
            id=req_ident(raw, "id", path),
            event_type=req_str(raw, "event_type", path),
            text=str_or_none(raw, "text") or "",
            sender_id=sender_id,
            dm_conversation_id=opt_ident(raw, "dm_conversation_id", path),
            created_at=iso_time(raw.get("created_at")),
            participant_ids=participant_ids,
            media_keys=media_keys,
            referenced_post_ids=post_ids,
            entities=entities,
            raw=raw,
            sender=users.get(sender_id) if sender_id else None,
            participants=tuple(users[i] for i in participant_ids if i in users),
            media=tuple(media[k] for k in media_keys if k in media),
            referenced_posts=tuple(posts[i] for i in post_ids if i in posts),
        )


# --- results -----------------------------------------------------------------------------------------------


def _data(body: Any) -> Mapping[str, Any]:
    return req_object(as_object(body, ""), "data", "")


@dataclass(frozen=True)
class DmEventList:
    """A DM events lookup as X answered it, before its events are read: what paging needs, and X's JSON.

    ``items`` pairs each item of ``data`` (not read yet) with its path (``data[3]``; ``data`` for
    ``GET /2/dm_events/:id``); ``includes`` is X's object ({} when absent). ``listed`` counts the items.
    """

    items: tuple[tuple[Any, str], ...]
    includes: Mapping[str, Any]
    result_count: int
    next_token: str | None
    previous_token: str | None
    errors: tuple[dict[str, Any], ...]
    rate_limit: RateLimit

    @property
    def listed(self) -> int:
        return len(self.items)

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit, *, single: bool = False) -> DmEventList:
        """A lookup page (``data`` a list), or ``GET /2/dm_events/:id`` (``single``: ``data`` an object)."""
        body = as_object(body, "")
        if not single and not {"data", "meta", "errors"} & body.keys():
            raise PayloadError("", "the page has none of `data`, `meta` or `errors`")
        includes = as_object(body.get("includes", {}), "includes")
        items = ((_data(body), "data"),) if single else tuple(list_items(body, "data", ""))
        meta = as_object(body.get("meta", {}), "meta")
        count = to_int(meta.get("result_count"))
        return cls(
            items=items,
            includes=includes,
            result_count=len(items) if count is None else count,
            next_token=str_or_none(meta, "next_token") or None,
            previous_token=str_or_none(meta, "previous_token") or None,
            errors=errors_of(body),
            rate_limit=rate_limit,
        )


class EventsPage(Protocol):
    """What following a lookup's pages needs of a page, whichever reader read its events. ``listed``: how
    many items X listed in ``data``, read or not."""

    @property
    def listed(self) -> int: ...

    @property
    def result_count(self) -> int: ...

    @property
    def next_token(self) -> str | None: ...


Page = TypeVar("Page", bound=EventsPage, covariant=True)


class PageReader(Protocol[Page]):
    """Reads a DM events lookup's body into a page (``DmEventPage.from_json`` is one)."""

    def __call__(self, body: Any, rate_limit: RateLimit, *, single: bool = False) -> Page: ...


@dataclass(frozen=True)
class DmEventPage:
    events: tuple[XDmEvent, ...]
    users: dict[str, XUser]
    media: dict[str, XMedia]
    posts: dict[str, XPost]
    result_count: int
    next_token: str | None
    previous_token: str | None
    errors: tuple[dict[str, Any], ...]
    rate_limit: RateLimit

    @property
    def listed(self) -> int:
        return len(self.events)

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit, *, single: bool = False) -> DmEventPage:
        """A lookup page (``data`` a list), or ``GET /2/dm_events/:id`` (``single``: ``data`` an object)."""
        found = DmEventList.from_json(body, rate_limit, single=single)
        includes = found.includes
        users = {u.id: u for u in (XUser.from_json(*i) for i in list_items(includes, "users", "includes"))}
        media = {m.media_key: m for m in (XMedia.from_json(*i) for i in list_items(includes, "media", "includes"))}
        posts = {p.id: p for p in (XPost.from_json(*i) for i in list_items(includes, "tweets", "includes"))}
        return cls(
            events=tuple(XDmEvent.from_json(item, users, media, posts, path=path) for item, path in found.items),
            users=users,
            media=media,
            posts=posts,
            result_count=found.result_count,
            next_token=found.next_token,
            previous_token=found.previous_token,
            errors=found.errors,
            rate_limit=rate_limit,
        )


@dataclass(frozen=True)
class SentMessage:
    dm_conversation_id: str
    dm_event_id: str
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> SentMessage:
        data = _data(body)
        return cls(
            dm_conversation_id=req_ident(data, "dm_conversation_id", "data"),
            dm_event_id=req_ident(data, "dm_event_id", "data"),
            rate_limit=rate_limit,
        )


@dataclass(frozen=True)
class UserResult:
    user: XUser
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> UserResult:
        return cls(user=XUser.from_json(_data(body), "data"), rate_limit=rate_limit)


@dataclass(frozen=True)
class UsersResult:
    users: tuple[XUser, ...]
    errors: tuple[dict[str, Any], ...]
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> UsersResult:
        body = as_object(body, "")
        if "data" not in body and "errors" not in body:
            raise PayloadError("", "the body has neither `data` nor `errors`")
        users = tuple(XUser.from_json(*item) for item in list_items(body, "data", ""))
        return cls(users=users, errors=errors_of(body), rate_limit=rate_limit)


@dataclass(frozen=True)
class UploadedMedia:
    media_id: str
    media_key: str
    size: int | None
    expires_after_secs: int | None
    processing_state: str | None
    rate_limit: RateLimit
    check_after_secs: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> UploadedMedia:
        data = _data(body)
        info = opt_object(data, "processing_info", "data") or {}
        media_id = req_ident(data, "id", "data")
        if not media_id.isdigit():
            raise PayloadError("data.id", f"the media id {media_id[:40]!r} is not numeric")
        return cls(
            media_id=media_id,
            media_key=str_or_none(data, "media_key") or "",
            size=to_int(data.get("size")),
            expires_after_secs=to_int(data.get("expires_after_secs")),
            processing_state=str_or_none(info, "state"),
            rate_limit=rate_limit,
            check_after_secs=to_int(info.get("check_after_secs")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    valid: bool
    created_at: datetime | None

    @classmethod
    def from_json(cls, raw: Any, path: str = "") -> Webhook:
        raw = as_object(raw, path)
        return cls(
            id=req_ident(raw, "id", path),
            url=req_str(raw, "url", path),
            valid=req_bool(raw, "valid", path),
            created_at=iso_time(raw.get("created_at")),
        )


@dataclass(frozen=True)
class WebhookResult:
    webhook: Webhook
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> WebhookResult:
        body = as_object(body, "")
        # The docs wrap the webhook in `data`; OA 2.159's WebhookConfigCreateResponse does not.
        webhook = Webhook.from_json(body["data"], "data") if "data" in body else Webhook.from_json(body)
        return cls(webhook=webhook, rate_limit=rate_limit)


@dataclass(frozen=True)
class WebhookList:
    webhooks: tuple[Webhook, ...]
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> WebhookList:
        body = as_object(body, "")
        if "data" not in body and "meta" not in body:
            raise PayloadError("", "the body has neither `data` nor `meta`")
        webhooks = tuple(Webhook.from_json(*item) for item in list_items(body, "data", ""))
        return cls(webhooks=webhooks, rate_limit=rate_limit)


@dataclass(frozen=True)
class SubscriptionStatus:
    subscribed: bool
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> SubscriptionStatus:
        return cls(subscribed=req_bool(_data(body), "subscribed", "data"), rate_limit=rate_limit)


@dataclass(frozen=True)
class SubscriptionList:
    application_id: str
    webhook_id: str
    webhook_url: str
    user_ids: tuple[str, ...]
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> SubscriptionList:
        data = _data(body)
        subscriptions = list_items(data, "subscriptions", "data")
        return cls(
            application_id=opt_ident(data, "application_id", "data") or "",
            webhook_id=req_ident(data, "webhook_id", "data"),
            webhook_url=str_or_none(data, "webhook_url") or "",
            user_ids=tuple(req_ident(as_object(s, where), "user_id", where) for s, where in subscriptions),
            rate_limit=rate_limit,
        )


@dataclass(frozen=True)
class SubscriptionCount:
    account_name: str
    provisioned_count: int | None
    subscriptions_count_all: int | None
    subscriptions_count_direct_messages: int | None
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> SubscriptionCount:
        data = _data(body)
        # X sends the counts as strings ("0").
        return cls(
            account_name=str_or_none(data, "account_name") or "",
            provisioned_count=to_int(data.get("provisioned_count")),
            subscriptions_count_all=to_int(data.get("subscriptions_count_all")),
            subscriptions_count_direct_messages=to_int(data.get("subscriptions_count_direct_messages")),
            rate_limit=rate_limit,
        )


@dataclass(frozen=True)
class Deleted:
    deleted: bool
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> Deleted:
        return cls(deleted=req_bool(_data(body), "deleted", "data"), rate_limit=rate_limit)


@dataclass(frozen=True)
class Done:
    """An answer with nothing to parse (204), or a small ``data`` object we do not interpret (PUT webhook)."""

    rate_limit: RateLimit
    data: dict[str, Any] = field(default_factory=dict)
