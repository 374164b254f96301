"""Is this reply already on X? The lookup done before any reply is sent again, and the rule it rests on.

A send X did not answer (a timeout, a reset connection, a 5xx, "accepted then failed") may have reached
X all the same, and so may the send of a worker that died in the middle. Before such a reply is sent
again, the retry (``sending.reply_deliver``) or the replies sweep (``reconcile.reply_reconcile``) calls
``reply_settle``, which decides from what X has:

1. *When.* Not before X must have answered or abandoned every request made for the reply: after our
   client gave up on a POST, X may still finish it and show it ``visibility_margin()`` later
   (``X_SEND_VISIBILITY_MARGIN``, 45 s). A retry is due no earlier than that after the POST it follows
   (``sending``); the sweep waits ``send_lease()`` after the dead attempt's last claim (``reconcile``).
   Until then "not on X" proves nothing, so the lookup is not made.
2. *What is read.* Every ``MessageCreate`` event of the conversation on X, newest first, page after
   page (100 a page, following ``next_token``), until a page reaches events created before the cutoff
   (when the first unanswered send began, or the reply was written, minus ``CLOCK_SKEW``) or X's list
   ends. Not a fixed number of events: any number of messages may have been sent after the reply.
3. *What matches.* An event sent by the inbox's X account, with the reply's text (X's t.co links
   expanded, whitespace folded), with an attachment exactly when the reply has one, created at or
   after the cutoff.
4. *Which one.* The oldest match that no other reply of ours is recorded with, chosen and recorded
   under the conversation's lock (``inbox.services.reply_recovery.reply_mark_found``), so two replies
   with the same text take different events. While another reply with the same text is between its
   claim and its record (its POST may have been answered with one of these events), no event is taken:
   "unsure", asked again shortly. Replies with the same text are then interchangeable: X has that text
   as many times as we have such replies, whichever event each is recorded with.
5. *X's read budget.* The lookup is counted by X like any read (300 per 15 minutes at launch, 15 today).
   A 429, or a page whose headers say nothing is left while more pages are needed, raises
   ``RateLimited``: "cannot tell now", and the caller waits for X's reset. It never sends on a lookup
   it could not finish.

Outcomes: ``found`` (recorded ``sent`` with X's event id and time), ``absent`` (none of the reply's
sends is on X: sending it again is safe), ``unsure`` (ask again later). X's other errors are raised.

What this leaves at risk:

- X finishing a send, or showing it in the conversation, later than the margin after our client gave
  up (the lease, for the sweep): it is not found and the reply goes out a second time. The margin is
  a setting: raise it if X is seen to be slower.
- A worker frozen (not dead: a paused VM, SIGSTOP) between renewing its claim and sending its POST for
  longer than the lease: the sweep takes the reply over and may send it, and the frozen POST still
  goes out when the worker wakes. Killed workers are covered; frozen ones only up to the lease.
- The same text sent by the business from elsewhere (X's own app, another tool) after the cutoff is
  taken for the reply: it is marked sent without having gone. Lost, never doubled.
- Replies with the same text are told apart by count only. One that failed for good after X did not
  answer its last attempt (and says it may have reached the customer) can have its message taken by
  a twin, which is then not sent: X shows the text once where it was written twice.
- X's clock more than ``CLOCK_SKEW`` (2 minutes) behind ours: a message X dates before the cutoff is
  missed and sent again.
- A reply with more messages after it than X's read window lets one lookup read (30,000 at launch,
  300 reads of 100; 1,500 with today's 15 reads per 15 minutes) can never be looked up: it waits for
  X's resets again and again, never sent twice, and never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from inbox.dm_events import DmEvent
from inbox.models import Conversation, Message, MessageAttachment
from inbox.services.reply_recovery import reply_mark_found
from twitter_channel.inbound.parsing.payloads import LookupPage, read_lookup_page
from twitter_channel.inbound.sync import page_events
from twitter_channel.models import XAccount
from twitter_channel.x.client import XClient
from twitter_channel.x.errors import NotFound, RateLimited
from twitter_channel.x.rate_limits import RateWindow

log = logging.getLogger(__name__)

FOUND, ABSENT, UNSURE = "found", "absent", "unsure"
# Events per page of the lookup: X's largest page, so the fewest reads.
LOOKUP_PAGE_SIZE = 100
# How far X's clock may be behind ours.
CLOCK_SKEW = timedelta(minutes=2)
# Requests an attempt may make (or wait for) after renewing its claim: the refresh of an expiring token
# (ours, or another process's we wait for), the POST, a refresh after a 401, the POST again.
REQUESTS_AFTER_RENEWAL = 5


def visibility_margin() -> timedelta:
    """How long after our client gave up on a request X may still finish it and show what it accepted."""
    return timedelta(seconds=max(0.0, float(settings.X_SEND_VISIBILITY_MARGIN)))


def send_lease() -> timedelta:
    """How old a ``sending`` reply's claim must be before its attempt is taken for dead (``reconcile``).

    ``REQUESTS_AFTER_RENEWAL`` × (``X_CONNECT_TIMEOUT`` + ``X_READ_TIMEOUT``) + ``visibility_margin()``:
    160 s with the defaults. An attempt still alive has given up on every request by then, and X has
    finished and shows whatever it accepted.
    """
    per_request = settings.X_CONNECT_TIMEOUT + settings.X_READ_TIMEOUT
    return timedelta(seconds=REQUESTS_AFTER_RENEWAL * per_request) + visibility_margin()


def reply_settle(client: XClient, account: XAccount, message: Message, *, since: datetime) -> str:
    """Look on X for ``message`` (sent as ``account``, at the earliest at ``since``) by the rule above.

    ``found``: recorded ``sent`` with X's event; ``absent``: nothing of it is on X; ``unsure``: another
    reply with the same text is being sent, ask again later. Raises the client's errors (``RateLimited``
    when X's read budget ran out before the cutoff was reached).
    """
    candidates = events_matching(client, account, message, since=since)
    if not candidates:
        return ABSENT
    if _twin_in_flight(message):
        return UNSURE
    events = [(event.x_event_id, event.created_at) for event in candidates]
    recorded = reply_mark_found(message_id=message.pk, events=events)
    if recorded is None:
        return ABSENT  # every match is recorded for another reply with the same text
    log.info("Reply %s had reached X as %s; recorded, not sent again", message.pk, recorded.x_event_id)
    return FOUND


def events_matching(client: XClient, account: XAccount, message: Message, *, since: datetime) -> list[DmEvent]:
    """Every event on X that could be ``message``: steps 2 and 3 of the rule above; oldest first.

    Includes events recorded for other replies of ours (``reply_mark_found`` leaves those out under its
    lock). A conversation X does not know yet has none.
    """
    cutoff = since - CLOCK_SKEW
    sender = account.inbox.x_user_id
    has_media = message.attachments.exists()
    wanted = comparable(message.text)
    found: list[DmEvent] = []
    read = 0
    try:
        for page in conversation_pages(client, account, message.conversation):
            read += 1
            events = page_events(page)
            found += [
                event
                for event in events
                if event.created_at >= cutoff
                and event.sender_id == sender
                and bool(event.attachments) == has_media
                and comparable(visible_text(event)) == wanted
            ]
            if any(event.created_at < cutoff for event in events):
                break
    except NotFound:
        if read:  # the conversation vanished between two pages: that is no answer
            raise
        return []  # no such conversation on X yet: nothing of ours reached it
    return sorted(found, key=lambda e: (e.created_at, int(e.x_event_id)))


def conversation_pages(client: XClient, account: XAccount, conversation: Conversation) -> Iterator[LookupPage]:
    """The conversation's ``MessageCreate`` events on X, a page at a time, newest first, until X's list ends.

    Before asking for another page, X's rate-limit headers on the last one are read: when they say no
    request is left, ``RateLimited`` is raised (with X's reset) instead of a request X would refuse.
    """
    token: str | None = None
    while True:
        options: dict[str, Any] = {
            "event_types": ["MessageCreate"],
            "max_results": LOOKUP_PAGE_SIZE,
            "pagination_token": token,
            "read": read_lookup_page,
        }
        if conversation.kind == Conversation.Kind.GROUP:
            page = client.conversation_events_page(conversation.x_conversation_id, **options)
        else:
            page = client.participant_events_page(recipient(account, conversation), **options)
        yield page
        # X sends a next_token even on a short last page (x-api.md §3.3): only an empty page or no token ends.
        if not page.listed or not page.next_token or page.next_token == token:
            return
        _read_budget_check(page)
        token = page.next_token


def _read_budget_check(page: LookupPage) -> None:
    rate = page.rate_limit
    windows = (RateWindow(rate.limit, rate.remaining, rate.reset_at), rate.user_24h, rate.app_24h)
    if any(window is not None and window.exhausted for window in windows):
        reset_at = rate.reopens_at()
        raise RateLimited(
            f"X's read limit for DM lookups is used up until {reset_at}; the lookup cannot go on before then",
            reset_at=reset_at,
            rate_limit=rate,
        )


def recipient(account: XAccount, conversation: Conversation) -> str:
    """The other person of a one-to-one conversation, as X knows them."""
    if conversation.contact is not None:
        return conversation.contact.x_user_id
    others = [i for i in conversation.x_conversation_id.split("-") if i != account.inbox.x_user_id]
    if len(others) != 1:
        raise ValueError(f"conversation {conversation.x_conversation_id} names no other person")
    return others[0]


def visible_text(event: DmEvent) -> str:
    """The text as it was written: X's t.co links expanded, the link X appends for an attachment removed."""
    text = event.text
    for url in event.entities.get("urls", []):
        short = url.get("url") or ""
        if short:
            text = text.replace(short, "" if url.get("media") else url.get("expanded_url") or short)
    return text


def comparable(text: str) -> str:
    return " ".join(text.replace("\x00", "").split())


def _twin_in_flight(message: Message) -> bool:
    """Another reply in the conversation with the same text (and attachment or none) claimed by an attempt
    that may still record the event X answered it with: ``sending``, no event yet, claimed within the lease."""
    twins = (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            direction=Message.Direction.OUTBOUND,
            delivery_state=Message.DeliveryState.SENDING,
            x_event_id__isnull=True,
            send_claimed_at__gt=timezone.now() - send_lease(),
        )
        .exclude(pk=message.pk)
        .annotate(media=Exists(MessageAttachment.objects.filter(message=OuterRef("pk"))))
    )
    wanted, has_media = comparable(message.text), message.attachments.exists()
    return any(comparable(text) == wanted and media == has_media for text, media in twins.values_list("text", "media"))
