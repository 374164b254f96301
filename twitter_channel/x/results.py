"""What ``XClient`` returns: frozen dataclasses built from X's JSON. No Django in here.

The ``from_json`` constructors are strict about the keys a caller relies on (ids, types of values) and
tolerant of the rest (display fields, counts). A body that breaks the strict part raises
``UnexpectedShape``, which the client turns into ``MalformedResponse``. Objects keep X's JSON in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from twitter_channel.x.json_fields import (
    UnexpectedShape,
    data_of,
    epoch_seconds,
    errors_of,
    flag,
    ids_of,
    iso_time,
    list_of,
    obj,
    opt_bool,
    opt_str,
    required_id,
    required_text,
    retry_after,
    to_int,
)

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


# --- tolerant readers (missing or garbage -> None) ---------------------------------------------------------


# --- rate limits -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateWindow:
    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass(frozen=True)
class RateLimit:
    """X's ``x-rate-limit-*`` headers (the 15-minute window), and the 24-hour user and app windows."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    user_24h: RateWindow | None = None
    app_24h: RateWindow | None = None
    retry_after_at: datetime | None = None
    """From a ``Retry-After`` header, when X sent one."""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        lower = {str(k).lower(): v for k, v in headers.items()}

        def window(prefix: str) -> RateWindow | None:
            found = RateWindow(
                limit=to_int(lower.get(f"{prefix}-limit")),
                remaining=to_int(lower.get(f"{prefix}-remaining")),
                reset_at=epoch_seconds(lower.get(f"{prefix}-reset")),
            )
            return found if found != RateWindow() else None

        main = window("x-rate-limit") or RateWindow()
        return cls(
            limit=main.limit,
            remaining=main.remaining,
            reset_at=main.reset_at,
            user_24h=window("x-user-limit-24hour"),
            app_24h=window("x-app-limit-24hour"),
            retry_after_at=retry_after(lower.get("retry-after"), datetime.now(UTC)),
        )

    def reopens_at(self) -> datetime | None:
        """When calls are allowed again: the latest reset of the exhausted windows, else the 15-minute
        window's reset, else ``Retry-After``."""
        main = RateWindow(self.limit, self.remaining, self.reset_at)
        exhausted = [w.reset_at for w in (main, self.user_24h, self.app_24h) if w and w.exhausted and w.reset_at]
        if exhausted:
            return max(exhausted)
        return self.reset_at or self.retry_after_at


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
    def from_json(cls, raw: Any) -> XUser:
        raw = obj(raw, "a user")
        metrics = raw.get("public_metrics")
        return cls(
            id=required_id(raw, "id", "a user"),
            username=required_text(raw, "username", "a user"),
            name=required_text(raw, "name", "a user"),
            profile_image_url=opt_str(raw, "profile_image_url"),
            description=opt_str(raw, "description"),
            location=opt_str(raw, "location"),
            url=opt_str(raw, "url"),
            verified=opt_bool(raw, "verified"),
            protected=opt_bool(raw, "protected"),
            followers_count=to_int(metrics.get("followers_count")) if isinstance(metrics, dict) else None,
            receives_your_dm=opt_bool(raw, "receives_your_dm"),
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
    def from_json(cls, raw: Any) -> XMedia:
        raw = obj(raw, "a media object")
        variants = raw.get("variants")
        return cls(
            media_key=required_text(raw, "media_key", "a media object"),
            type=opt_str(raw, "type") or "",
            url=opt_str(raw, "url"),
            preview_image_url=opt_str(raw, "preview_image_url"),
            width=to_int(raw.get("width")),
            height=to_int(raw.get("height")),
            duration_ms=to_int(raw.get("duration_ms")),
            alt_text=opt_str(raw, "alt_text"),
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
    def from_json(cls, raw: Any) -> XPost:
        raw = obj(raw, "a post")
        return cls(
            id=required_id(raw, "id", "a post"),
            text=opt_str(raw, "text") or "",
            author_id=required_id(raw, "author_id", "a post", required=False),
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
    ) -> XDmEvent:
        """One DM event; ``users``/``media``/``posts`` (the page's ``includes``) resolve its references."""
        users, media, posts = users or {}, media or {}, posts or {}
        raw = obj(raw, "a DM event")
        where = f"DM event {raw.get('id')!r}"
        attachments = raw.get("attachments")
        media_keys: tuple[str, ...] = ()
        if attachments is not None:
            media_keys = ids_of(obj(attachments, f"{where} attachments").get("media_keys"), f"{where} media_keys")
        # OA 2.159 (and every capture) says referenced_tweets; OA 2.167 renames it referenced_posts.
        references = raw.get("referenced_tweets", raw.get("referenced_posts"))
        post_ids = tuple(
            required_id(obj(r, f"{where} reference"), "id", f"{where} reference") for r in list_of(references, where)
        )
        entities = raw.get("entities")
        if not isinstance(entities, dict):
            # OA 2.159 lists the entity arrays flat on the event; OA 2.167 nests them in `entities`.
            entities = {kind: raw[kind] for kind in ENTITY_KINDS if isinstance(raw.get(kind), list)}
        sender_id = required_id(raw, "sender_id", where, required=False)
        participant_ids = ids_of(raw.get("participant_ids"), f"{where} participant_ids")
        return cls(
            id=required_id(raw, "id", "a DM event"),
            event_type=required_text(raw, "event_type", where),
            text=opt_str(raw, "text") or "",
            sender_id=sender_id,
            dm_conversation_id=required_id(raw, "dm_conversation_id", where, required=False),
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

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit, *, single: bool = False) -> DmEventPage:
        """A lookup page (``data`` a list), or ``GET /2/dm_events/:id`` (``single``: ``data`` an object)."""
        body = obj(body, "the body")
        if not single and not {"data", "meta", "errors"} & body.keys():
            raise UnexpectedShape("the page has none of `data`, `meta` or `errors`")
        includes = obj(body.get("includes", {}), "`includes`")
        users = {u.id: u for u in map(XUser.from_json, list_of(includes.get("users"), "`includes.users`"))}
        media = {m.media_key: m for m in map(XMedia.from_json, list_of(includes.get("media"), "`includes.media`"))}
        posts = {p.id: p for p in map(XPost.from_json, list_of(includes.get("tweets"), "`includes.tweets`"))}
        items = [data_of(body)] if single else list_of(body.get("data"), "`data`")
        events = tuple(XDmEvent.from_json(item, users, media, posts) for item in items)
        meta = obj(body.get("meta", {}), "`meta`")
        count = to_int(meta.get("result_count"))
        return cls(
            events=events,
            users=users,
            media=media,
            posts=posts,
            result_count=len(events) if count is None else count,
            next_token=opt_str(meta, "next_token") or None,
            previous_token=opt_str(meta, "previous_token") or None,
            errors=errors_of(body),
            rate_limit=rate_limit,
        )


@dataclass(frozen=True)
class SentMessage:
    dm_conversation_id: str
    dm_event_id: str
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> SentMessage:
        data = data_of(body)
        return cls(
            dm_conversation_id=required_id(data, "dm_conversation_id", "`data`"),
            dm_event_id=required_id(data, "dm_event_id", "`data`"),
            rate_limit=rate_limit,
        )


@dataclass(frozen=True)
class UserResult:
    user: XUser
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> UserResult:
        return cls(user=XUser.from_json(data_of(body)), rate_limit=rate_limit)


@dataclass(frozen=True)
class UsersResult:
    users: tuple[XUser, ...]
    errors: tuple[dict[str, Any], ...]
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> UsersResult:
        body = obj(body, "the body")
        if "data" not in body and "errors" not in body:
            raise UnexpectedShape("the body has neither `data` nor `errors`")
        users = tuple(XUser.from_json(u) for u in list_of(body.get("data"), "`data`"))
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
        data = data_of(body)
        info = data.get("processing_info")
        info = obj(info, "`processing_info`") if info is not None else {}
        media_id = required_id(data, "id", "`data`")
        if not media_id.isdigit():
            raise UnexpectedShape(f"the media id {media_id!r} is not numeric")
        return cls(
            media_id=media_id,
            media_key=opt_str(data, "media_key") or "",
            size=to_int(data.get("size")),
            expires_after_secs=to_int(data.get("expires_after_secs")),
            processing_state=opt_str(info, "state"),
            rate_limit=rate_limit,
            check_after_secs=to_int(info.get("check_after_secs")),
            raw=data,
        )


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    valid: bool
    created_at: datetime | None

    @classmethod
    def from_json(cls, raw: Any) -> Webhook:
        raw = obj(raw, "a webhook")
        return cls(
            id=required_id(raw, "id", "a webhook"),
            url=required_text(raw, "url", "a webhook"),
            valid=flag(raw, "valid", "a webhook"),
            created_at=iso_time(raw.get("created_at")),
        )


@dataclass(frozen=True)
class WebhookResult:
    webhook: Webhook
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> WebhookResult:
        body = obj(body, "the body")
        # The docs wrap the webhook in `data`; OA 2.159's WebhookConfigCreateResponse does not.
        return cls(webhook=Webhook.from_json(body["data"] if "data" in body else body), rate_limit=rate_limit)


@dataclass(frozen=True)
class WebhookList:
    webhooks: tuple[Webhook, ...]
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> WebhookList:
        body = obj(body, "the body")
        if "data" not in body and "meta" not in body:
            raise UnexpectedShape("the body has neither `data` nor `meta`")
        return cls(webhooks=tuple(map(Webhook.from_json, list_of(body.get("data"), "`data`"))), rate_limit=rate_limit)


@dataclass(frozen=True)
class SubscriptionStatus:
    subscribed: bool
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> SubscriptionStatus:
        return cls(subscribed=flag(data_of(body), "subscribed", "`data`"), rate_limit=rate_limit)


@dataclass(frozen=True)
class SubscriptionList:
    application_id: str
    webhook_id: str
    webhook_url: str
    user_ids: tuple[str, ...]
    rate_limit: RateLimit

    @classmethod
    def from_json(cls, body: Any, rate_limit: RateLimit) -> SubscriptionList:
        data = data_of(body)
        subscriptions = list_of(data.get("subscriptions"), "`data.subscriptions`")
        return cls(
            application_id=required_id(data, "application_id", "`data`", required=False) or "",
            webhook_id=required_id(data, "webhook_id", "`data`"),
            webhook_url=opt_str(data, "webhook_url") or "",
            user_ids=tuple(required_id(obj(s, "a subscription"), "user_id", "a subscription") for s in subscriptions),
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
        data = data_of(body)
        # X sends the counts as strings ("0").
        return cls(
            account_name=opt_str(data, "account_name") or "",
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
        return cls(deleted=flag(data_of(body), "deleted", "`data`"), rate_limit=rate_limit)


@dataclass(frozen=True)
class Done:
    """An answer with nothing to parse (204), or a small ``data`` object we do not interpret (PUT webhook)."""

    rate_limit: RateLimit
    data: dict[str, Any] = field(default_factory=dict)
