"""The X API client: every call Backchannel makes to X (or to the sandbox) goes through ``XClient``.

User-context calls carry the connected account's OAuth 2.0 access token (``UserAuth``); app-only calls
(webhooks, subscription lists) carry the app's bearer. Every request has a ``(connect, read)`` timeout.
Arguments are checked before any I/O (``arguments``).
Answers become the dataclasses of ``results`` (read with ``json_fields``); failures the typed errors of
``errors``. A DM events lookup takes ``read=``, the reader of its pages (``DmEventPage.from_json`` by default).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol, TypeVar

import requests
from django.conf import settings
from requests_oauthlib import OAuth2Session

from twitter_channel.x.arguments import (
    MAX_USERS,
    check_conversation,
    check_id,
    check_max_pages,
    check_username,
    check_webhook_url,
    group_ids,
    id_list,
    lookup_params,
    may_download,
    message_body,
    upload_bytes,
)
from twitter_channel.x.errors import (
    TRANSPORT_ERRORS,
    MalformedResponse,
    PermanentError,
    Transient,
    error_from_answer,
    error_from_response,
    path_of,
    processing_failed,
    transport_error,
)
from twitter_channel.x.json_fields import to_int
from twitter_channel.x.rate_limits import RateLimit
from twitter_channel.x.results import (
    LOOKUP_FIELDS,
    USER_FIELDS,
    Deleted,
    DmEventPage,
    Done,
    EventsPage,
    PageReader,
    SentMessage,
    SubscriptionCount,
    SubscriptionList,
    SubscriptionStatus,
    UploadedMedia,
    UserResult,
    UsersResult,
    WebhookList,
    WebhookResult,
)

T = TypeVar("T")
P = TypeVar("P", bound=EventsPage)
Auth = Literal["user", "app"]

PROCESSING = ("pending", "in_progress")


class UserAuth(Protocol):
    def access_token(self) -> str:
        """The current user access token (may refresh first)."""
        ...

    def renew(self, rejected: str) -> str | None:
        """After X answered 401 to ``rejected``: a new token to retry with once, or None."""
        ...


class StaticUserAuth:
    """A fixed access token (tests, scripts): nothing to renew."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def renew(self, rejected: str) -> str | None:
        return None


class XClient:
    """X as one connected account (``user_auth``) and as the app (``app_bearer``). Not thread-safe."""

    def __init__(
        self,
        *,
        user_auth: UserAuth | None = None,
        app_bearer: str | None = None,
        base_url: str | None = None,
        timeout: tuple[float, float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_media_wait: float = 300.0,
    ) -> None:
        self.user_auth = user_auth
        self.app_bearer = app_bearer
        self.base_url = (base_url or settings.X_API_BASE_URL).rstrip("/")
        self.timeout = timeout or (settings.X_CONNECT_TIMEOUT, settings.X_READ_TIMEOUT)
        self.sleep = sleep
        self.max_media_wait = max_media_wait
        self._sessions: dict[Auth, OAuth2Session] = {}

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    # --- DM manage (x-api.md §2) ---------------------------------------------------------------------------

    def dm_send_to_participant(
        self, participant_id: str, *, text: str = "", media_id: str | None = None
    ) -> SentMessage:
        check_id(participant_id, "participant_id")
        body = message_body(text, media_id)
        return self._call("POST", f"/2/dm_conversations/with/{participant_id}/messages", SentMessage.from_json,
                          auth="user", json=body)  # fmt: skip

    def dm_send_to_conversation(
        self, conversation_id: str, *, text: str = "", media_id: str | None = None
    ) -> SentMessage:
        check_conversation(conversation_id)
        body = message_body(text, media_id)
        return self._call("POST", f"/2/dm_conversations/{conversation_id}/messages", SentMessage.from_json,
                          auth="user", json=body)  # fmt: skip

    def dm_group_create(
        self, participant_ids: Sequence[str], *, text: str = "", media_id: str | None = None
    ) -> SentMessage:
        """A new group conversation with its first message; ``participant_ids`` excludes the sender."""
        body = {"conversation_type": "Group", "participant_ids": group_ids(participant_ids),
                "message": message_body(text, media_id)}  # fmt: skip
        return self._call("POST", "/2/dm_conversations", SentMessage.from_json, auth="user", json=body)

    def dm_event_delete(self, event_id: str) -> Deleted:
        check_id(event_id, "event_id")
        return self._call("DELETE", f"/2/dm_events/{event_id}", Deleted.from_json, auth="user")

    # --- DM lookup (x-api.md §3) ---------------------------------------------------------------------------
    # A page's events are read by ``read``: ``DmEventPage.from_json`` (XDmEvent objects) unless the caller
    # brings its own reader (the inbox's parser reads them into what it stores, each event once).
    # The ignores: mypy cannot bind the type variable P from a default (P is DmEventPage when ``read`` is
    # not given; python/mypy#3737).

    def dm_events_page(
        self, *, event_types: Sequence[str] | None = None, max_results: int = 100, pagination_token: str | None = None,
        read: PageReader[P] = DmEventPage.from_json,  # type: ignore[assignment]
    ) -> P:  # fmt: skip
        """One page of the account's DM events of the last 30 days, newest first."""
        params = lookup_params(event_types, max_results, pagination_token)
        return self._call("GET", "/2/dm_events", read, auth="user", params=params)

    def conversation_events_page(
        self, conversation_id: str, *, event_types: Sequence[str] | None = None, max_results: int = 100,
        pagination_token: str | None = None, read: PageReader[P] = DmEventPage.from_json,  # type: ignore[assignment]
    ) -> P:  # fmt: skip
        check_conversation(conversation_id)
        params = lookup_params(event_types, max_results, pagination_token)
        path = f"/2/dm_conversations/{conversation_id}/dm_events"
        return self._call("GET", path, read, auth="user", params=params)

    def participant_events_page(
        self, participant_id: str, *, event_types: Sequence[str] | None = None, max_results: int = 100,
        pagination_token: str | None = None, read: PageReader[P] = DmEventPage.from_json,  # type: ignore[assignment]
    ) -> P:  # fmt: skip
        check_id(participant_id, "participant_id")
        params = lookup_params(event_types, max_results, pagination_token)
        path = f"/2/dm_conversations/with/{participant_id}/dm_events"
        return self._call("GET", path, read, auth="user", params=params)

    def dm_events_pages(
        self, *, event_types: Sequence[str] | None = None, max_results: int = 100, max_pages: int | None = None,
        read: PageReader[P] = DmEventPage.from_json,  # type: ignore[assignment]
    ) -> Iterator[P]:  # fmt: skip
        """Every page with events, following ``next_token``; empty pages are not yielded."""
        return self._pages("/2/dm_events", event_types, max_results, max_pages, read)

    def conversation_events_pages(
        self, conversation_id: str, *, event_types: Sequence[str] | None = None, max_results: int = 100,
        max_pages: int | None = None, read: PageReader[P] = DmEventPage.from_json,  # type: ignore[assignment]
    ) -> Iterator[P]:  # fmt: skip
        check_conversation(conversation_id)
        path = f"/2/dm_conversations/{conversation_id}/dm_events"
        return self._pages(path, event_types, max_results, max_pages, read)

    def participant_events_pages(
        self, participant_id: str, *, event_types: Sequence[str] | None = None, max_results: int = 100,
        max_pages: int | None = None, read: PageReader[P] = DmEventPage.from_json,  # type: ignore[assignment]
    ) -> Iterator[P]:  # fmt: skip
        check_id(participant_id, "participant_id")
        path = f"/2/dm_conversations/with/{participant_id}/dm_events"
        return self._pages(path, event_types, max_results, max_pages, read)

    def dm_event(self, event_id: str, *, read: PageReader[P] = DmEventPage.from_json) -> P:  # type: ignore[assignment]
        """``GET /2/dm_events/:id``: a page of the one event."""
        check_id(event_id, "event_id")
        return self._call("GET", f"/2/dm_events/{event_id}", lambda body, rate: read(body, rate, single=True),
                          auth="user", params=LOOKUP_FIELDS, data_required=True)  # fmt: skip

    def _pages(
        self, path: str, event_types: Sequence[str] | None, max_results: int, max_pages: int | None,
        read: PageReader[P],
    ) -> Iterator[P]:  # fmt: skip
        # Checked now, not at the first next(): the caller learns about bad arguments where it passed them.
        params = lookup_params(event_types, max_results, None)
        check_max_pages(max_pages)
        self._require("user", "GET", path)
        return self._follow(path, params, max_pages, read)

    def _follow(self, path: str, params: dict[str, str], max_pages: int | None, read: PageReader[P]) -> Iterator[P]:
        token: str | None = None
        yielded = 0
        while True:
            query = {**params, "pagination_token": token} if token else params
            page = self._call("GET", path, read, auth="user", params=query)
            if page.listed:
                yield page
                yielded += 1
            # X sends a next_token even on a short last page (x-api.md §3.3): only an empty page or no token ends.
            if not page.listed or page.result_count == 0 or not page.next_token or page.next_token == token:
                return
            if max_pages is not None and yielded >= max_pages:
                return
            token = page.next_token

    # --- users ---------------------------------------------------------------------------------------------

    def me(self) -> UserResult:
        return self._user("/2/users/me")

    def user(self, user_id: str) -> UserResult:
        check_id(user_id, "user_id")
        return self._user(f"/2/users/{user_id}")

    def user_by_username(self, username: str) -> UserResult:
        check_username(username)
        return self._user(f"/2/users/by/username/{username}")

    def _user(self, path: str) -> UserResult:
        params = {"user.fields": USER_FIELDS}
        return self._call("GET", path, UserResult.from_json, auth="user", params=params, data_required=True)

    def users(self, user_ids: Sequence[str]) -> UsersResult:
        """Users by id; ids X cannot find come back in ``errors``."""
        ids = id_list(user_ids, "user_ids", 1, MAX_USERS)
        params = {"ids": ",".join(ids), "user.fields": USER_FIELDS}
        return self._call("GET", "/2/users", UsersResult.from_json, auth="user", params=params)

    # --- media (x-api.md §8) -------------------------------------------------------------------------------

    def media_upload(
        self, data: bytes, *, media_type: str, media_category: str, chunk_size: int = 4 * 1024 * 1024
    ) -> UploadedMedia:
        """Chunked upload (initialize, append…, finalize), then wait while X processes it."""
        data = upload_bytes(data, media_type, media_category, chunk_size)
        body = {"media_type": media_type, "total_bytes": len(data), "media_category": media_category}
        init = self._call("POST", "/2/media/upload/initialize", UploadedMedia.from_json, auth="user", json=body)
        media_id = init.media_id
        for index, start in enumerate(range(0, len(data), chunk_size)):
            segment = data[start : start + chunk_size]
            self._request("POST", f"/2/media/upload/{media_id}/append", auth="user",
                          data={"segment_index": str(index)},
                          files={"media": ("blob", segment, "application/octet-stream")}).close()  # fmt: skip
        media = self._call("POST", f"/2/media/upload/{media_id}/finalize", UploadedMedia.from_json, auth="user")
        return self._processed(media_id, media)

    def _processed(self, media_id: str, media: UploadedMedia) -> UploadedMedia:
        waited = 0.0
        while media.processing_state in PROCESSING:
            delay = float(max(media.check_after_secs or 1, 1))
            if waited + delay > self.max_media_wait:
                raise Transient(f"GET /2/media/upload: media {media_id} is still {media.processing_state} after "
                                f"{waited:g}s of waiting", method="GET", url=self._url("/2/media/upload"),
                                body=media.raw, rate_limit=media.rate_limit)  # fmt: skip
            self.sleep(delay)
            waited += delay
            media = self._call("GET", "/2/media/upload", UploadedMedia.from_json, auth="user",
                               params={"command": "STATUS", "media_id": media_id})  # fmt: skip
        if media.processing_state == "failed":
            raise processing_failed(media_id, media.raw, url=self._url("/2/media/upload"), rate_limit=media.rate_limit)
        return media

    def media_download(self, url: str, *, max_bytes: int = 15 * 1024 * 1024) -> tuple[bytes, str]:
        """A DM's media file with the account's token: ``(content, content_type)``; at most ``max_bytes``."""
        if not may_download(url, self.base_url):
            raise ValueError(f"refusing to send the account's token to {url!r}: not X's API or media host")
        response = self._request("GET", url, auth="user", stream=True, allow_redirects=True)
        where: dict[str, Any] = {"method": "GET", "url": url, "status": response.status_code,
                 "rate_limit": RateLimit.from_headers(response.headers)}  # fmt: skip
        too_big = f"GET {path_of(url)}: the media is larger than the {max_bytes} bytes allowed"
        chunks: list[bytes] = []
        size = 0
        with response:
            declared = to_int(response.headers.get("content-length"))
            if declared is not None and declared > max_bytes:
                raise PermanentError(f"{too_big} ({declared} bytes)", title="Too Large", **where)
            try:
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PermanentError(too_big, title="Too Large", **where)
                    chunks.append(chunk)
            except TRANSPORT_ERRORS as exc:
                raise transport_error("GET", url, exc, self.timeout) from exc
        return b"".join(chunks), response.headers.get("content-type", "application/octet-stream")

    # --- webhooks and Account Activity subscriptions (x-api.md §7.1, §7.5) -----------------------------------

    def webhook_create(self, url: str) -> WebhookResult:
        """Register ``url``; X runs the CRC against it before answering."""
        check_webhook_url(url)
        return self._call("POST", "/2/webhooks", WebhookResult.from_json, auth="app", json={"url": url})

    def webhooks(self) -> WebhookList:
        return self._call("GET", "/2/webhooks", WebhookList.from_json, auth="app")

    def webhook_validate(self, webhook_id: str) -> Done:
        """Ask X to run the CRC again (and re-enable the webhook if it passes)."""
        check_id(webhook_id, "webhook_id")
        return self._done("PUT", f"/2/webhooks/{webhook_id}", auth="app")

    def webhook_delete(self, webhook_id: str) -> Deleted:
        check_id(webhook_id, "webhook_id")
        return self._call("DELETE", f"/2/webhooks/{webhook_id}", Deleted.from_json, auth="app")

    def subscription_create(self, webhook_id: str) -> SubscriptionStatus:
        """Subscribe the account (user context) to the webhook's Account Activity events."""
        check_id(webhook_id, "webhook_id")
        path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all"
        return self._call("POST", path, SubscriptionStatus.from_json, auth="user")

    def subscription_check(self, webhook_id: str) -> SubscriptionStatus:
        check_id(webhook_id, "webhook_id")
        path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all"
        return self._call("GET", path, SubscriptionStatus.from_json, auth="user")

    def subscriptions(self, webhook_id: str) -> SubscriptionList:
        check_id(webhook_id, "webhook_id")
        path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all/list"
        return self._call("GET", path, SubscriptionList.from_json, auth="app")

    def subscription_delete(self, webhook_id: str, user_id: str) -> SubscriptionStatus:
        check_id(webhook_id, "webhook_id")
        check_id(user_id, "user_id")
        path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/{user_id}/all"
        return self._call("DELETE", path, SubscriptionStatus.from_json, auth="app")

    def subscription_count(self) -> SubscriptionCount:
        return self._call("GET", "/2/account_activity/subscriptions/count", SubscriptionCount.from_json, auth="app")

    # --- v1.1 typing indicator and read receipt (x-api.md §9.6) ----------------------------------------------

    def indicate_typing(self, recipient_id: str) -> Done:
        check_id(recipient_id, "recipient_id")
        return self._done("POST", "/1.1/direct_messages/indicate_typing.json", auth="user",
                          params={"recipient_id": recipient_id})  # fmt: skip

    def mark_read(self, recipient_id: str, last_read_event_id: str) -> Done:
        """Tell ``recipient_id`` (whose messages we read) that we read up to ``last_read_event_id``."""
        check_id(recipient_id, "recipient_id")
        check_id(last_read_event_id, "last_read_event_id")
        params = {"last_read_event_id": last_read_event_id, "recipient_id": recipient_id}
        return self._done("POST", "/1.1/direct_messages/mark_read.json", auth="user", params=params)

    # --- HTTP ----------------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def _require(self, auth: Auth, method: str, path: str) -> None:
        if auth == "app" and not self.app_bearer:
            raise RuntimeError(f"{method} {path} needs the app's bearer token: build XClient(app_bearer=...)")
        if auth == "user" and self.user_auth is None:
            raise RuntimeError(f"{method} {path} acts as an X account: build XClient(user_auth=...)")

    def _token(self, auth: Auth, method: str, path: str) -> str:
        self._require(auth, method, path)
        if auth == "app" and self.app_bearer:
            return self.app_bearer
        assert self.user_auth is not None  # _require raised otherwise
        return self.user_auth.access_token()

    def _session(self, auth: Auth, token: str) -> OAuth2Session:
        session = self._sessions.get(auth)
        if session is None or session.access_token != token:
            if session is not None:
                session.close()
            # No expires_at and no auto_refresh_url: renewing tokens is UserAuth's job, not requests-oauthlib's.
            session = OAuth2Session(token={"access_token": token, "token_type": "Bearer"})
            self._sessions[auth] = session
        return session

    def _send(self, method: str, url: str, auth: Auth, token: str, **kwargs: Any) -> requests.Response:
        # X's API does not redirect; following one would turn a POST into a GET. Media downloads may.
        kwargs.setdefault("allow_redirects", False)
        try:
            return self._session(auth, token).request(method, url, timeout=self.timeout, **kwargs)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(method, url, exc, self.timeout) from exc
        except requests.RequestException as exc:
            raise PermanentError(f"{method} {path_of(url)}: the request could not be made: {exc}", method=method,
                                 url=url) from exc  # fmt: skip

    def _request(self, method: str, path: str, *, auth: Auth, **kwargs: Any) -> requests.Response:
        """Send with a fresh token (renewed and retried once after a 401); raise for any non-2xx answer."""
        url = self._url(path)
        token = self._token(auth, method, path_of(url))
        response = self._send(method, url, auth, token, **kwargs)
        if response.status_code == 401 and auth == "user" and self.user_auth is not None:
            renewed = self.user_auth.renew(token)
            if renewed and renewed != token:
                response.close()
                response = self._send(method, url, auth, renewed, **kwargs)
        if not 200 <= response.status_code < 300:
            raise error_from_response(method, url, response)
        return response

    def _call(
        self, method: str, path: str, parse: Callable[[Any, RateLimit], T], *, auth: Auth, data_required: bool = False,
        **kwargs: Any,
    ) -> T:  # fmt: skip
        """``_request`` and parse the JSON answer; anything but the documented shape is ``MalformedResponse``."""
        response = self._request(method, path, auth=auth, **kwargs)
        url, status = self._url(path), response.status_code
        rate_limit = RateLimit.from_headers(response.headers)
        where: dict[str, Any] = {"method": method, "url": url, "status": status, "rate_limit": rate_limit}
        try:
            body = response.json()
        except ValueError as exc:
            snippet = response.text[:200]
            raise MalformedResponse(f"{method} {path_of(url)}: {status} but the body is not JSON: {snippet!r}",
                                    body=response.text[:2000], **where) from exc  # fmt: skip
        if data_required and isinstance(body, dict) and "data" not in body and body.get("errors"):
            # X answers "not found" for a single object with 200 and only an `errors` array.
            raise error_from_answer(method=method, url=url, status=status, reason=response.reason or "", body=body,
                                    rate_limit=rate_limit)  # fmt: skip
        try:
            return parse(body, rate_limit)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A shape check we missed must still end as a Transient, never as a crash in the middle of a task.
            raise MalformedResponse(f"{method} {path_of(url)}: {status} with a body X does not document: {exc}",
                                    body=body, **where) from exc  # fmt: skip

    def _done(self, method: str, path: str, *, auth: Auth, **kwargs: Any) -> Done:
        response = self._request(method, path, auth=auth, **kwargs)
        data: dict[str, Any] = {}
        if response.content.strip():
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("data"), dict):
                data = body["data"]
        return Done(rate_limit=RateLimit.from_headers(response.headers), data=data)
