"""Sending agents' replies to X: one attempt of the ``twitter_channel.reply_send`` task.

The inbox stores a reply ``queued`` (``inbox.services.replies``) and asks for the task by name. An
attempt claims the row (``sending``), uploads the attachment if there is one, and posts the message as
the X account of the reply's inbox: to the customer (``POST /2/dm_conversations/with/:id/messages``) in
a one-to-one conversation, into the conversation (``POST /2/dm_conversations/:id/messages``) in a group.
Right before the POST it takes a permit from the global rate limiter (``ratelimit.py``); without one
the reply goes back to ``queued`` with ``send_after`` at its turn ("Goes out at 14:05:10 UTC (rate
limit: 200 per 15 minutes used)") and the task retries then. X's rate-limit headers on every answer go
back to the limiter (``observe``). What happens next is decided by what X answered:

- accepted → ``sent`` with X's event id;
- 429 → the account's sending paused until X's reset (every reply of it waits), this one back to
  ``queued`` until then (the task retries then), the time shown to the agent;
- no answer, 5xx, a reset connection → back to ``queued`` and retried with exponential backoff and
  jitter (after a POST, no sooner than the margin below), ``MAX_ATTEMPTS`` attempts in all, then ``failed``;
- X refused (4xx) → ``failed`` with X's reason; the account's token refused → ``failed``, "reconnect".

A send X did not answer may still have reached X (X did the work and the answer was lost, or X finished
it after our client gave up). So right before its POST an attempt notes on the reply's row that it may
reach X unconfirmed from then on (``send_unconfirmed_since``, with the claim's renewal; cleared when X
refuses the POST or a lookup finds none of its sends), and every attempt that finds it noted looks on X
first, whatever task runs it (the retry, a duplicate, a redelivery, the agent's "send again"). After a
POST X did not answer, the next attempt is due no earlier than
``reply_lookup.visibility_margin()`` (``X_SEND_VISIBILITY_MARGIN``, 45 s) after our client gave up, or
its backoff if longer, and it first looks for the message on X (``reply_lookup.reply_settle``: every
event of the conversation back to when the first such send began, page after page): found → recorded
``sent`` with X's event, nothing sent; absent → sent; X's read limit reached → it waits for X's reset
and sends nothing; another reply with the same text in flight → it looks again a few seconds later.
The rule and what it leaves at risk are in ``reply_lookup``.

Tasks run inline (unit tests) cannot come back 45 s later. There, after a 5xx answer the retry
looks on X at once (X has answered: it is done with the request); after no answer at all (a timeout, a
dropped connection) the reply fails at once, telling the agent it may have reached the customer.

A worker that dies during an attempt (kill -9, OOM, host lost) leaves the reply ``sending``; a task
redelivered after that finds it so and sends nothing. The sweeper (``reconcile.py``) owns such replies,
and its rule needs every attempt to renew its claim right before the ``POST``: an attempt whose claim
the sweeper took over meanwhile stops there, without calling X.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from inbox.models import Conversation, Message
from inbox.reply_input import kind_for
from inbox.services import replies
from inbox.services.reply_recovery import reply_claim_renew, reply_unconfirmed_clear
from twitter_channel.connection.tokens import client_for
from twitter_channel.models import XAccount
from twitter_channel.outbound import ratelimit, reply_lookup
from twitter_channel.x.client import XClient
from twitter_channel.x.errors import AuthError, PermanentError, RateLimited, Transient, XError
from twitter_channel.x.results import SentMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 15
BACKOFF_MAX_SECONDS = 600
# A reply whose text X has, while another reply with the same text is being sent, looks again this much later.
TWIN_WAIT_SECONDS = 5
# A turn for a permit this close is waited for in the worker: cheaper than a retry through the broker.
INLINE_WAIT_SECONDS = 1.0
MAY_HAVE_REACHED = "It may have reached the customer: look at the conversation on X before sending it again."


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to: ``sent``, ``failed``, ``retry`` (at ``retry_at``), ``waiting`` (not due
    before ``retry_at``: the undo window, or a twin's send to wait for) or ``skipped`` (not queued, or
    taken over by the sweeper).

    ``failures`` counts the attempts X did not answer so far; ``unconfirmed_since`` is when the first
    send X did not answer began (None if none, or once a lookup found none of them on X): the next
    attempt looks on X before sending.
    """

    outcome: str
    detail: str = ""
    retry_at: datetime | None = None
    failures: int = 0
    unconfirmed_since: datetime | None = None


def retry_delay(failures: int, *, posted: bool) -> float:
    """Seconds from now to the next attempt after the ``failures``-th attempt X did not answer: the one
    place a reply's retry time is worked out (the time the agent sees on the reply, ``send_after``).

    ``BACKOFF_SECONDS`` doubling with each failure, at most ``BACKOFF_MAX_SECONDS``, drawn at random between
    half and all of it; after a POST X did not answer (``posted``) never less than
    ``reply_lookup.visibility_margin()``: the attempt looks on X first, and before then "not on X" proves
    nothing.
    """
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_SECONDS * 2 ** max(failures - 1, 0))
    wait = random.uniform(ceiling / 2, ceiling)
    return max(wait, reply_lookup.visibility_margin().total_seconds()) if posted else wait


def reply_deliver(
    *, message_id: int, failures: int = 0, unconfirmed_since: datetime | None = None, can_wait: bool = True
) -> Attempt:
    """One attempt to send reply ``message_id`` to X; returns what the task should do next.

    Does nothing unless the reply is ``queued`` (so a task run twice sends once). No transaction is
    held while X is called: each change of state is its own (``inbox.services.replies``), and so is
    each publish. ``can_wait`` False (tasks run inline: unit tests) turns a rate limit into
    ``failed`` with the time to send it again, rather than a wait nobody would come back from.
    """
    try:
        message = replies.reply_mark_sending(message_id=message_id)
    except replies.ReplyNotDue as exc:  # its undo window (or a wait for X) is not over: come back then
        return Attempt("waiting", retry_at=exc.send_after, failures=failures, unconfirmed_since=unconfirmed_since)
    if message is None:
        if not Message.objects.filter(pk=message_id, delivery_state__in=["queued", "sending"]).exists():
            ratelimit.wait_cancel(ticket=_ticket(message_id))  # undone or deleted while in line: let the next go
        return Attempt("skipped")
    conversation = message.conversation
    account = XAccount.objects.select_related("inbox").filter(inbox_id=conversation.inbox_id).first()
    if account is None:
        return _failed(message_id, "This inbox has no X account any more; the reply cannot be sent.")
    handle = account.inbox.handle
    started = timezone.now()
    paused_until: datetime | None = None
    client = client_for(account)
    posting = False
    claim = message.send_claimed_at
    # The task's word, or the row's: a duplicate task, or the agent's "send again", carries none.
    unconfirmed_since = min(filter(None, (unconfirmed_since, message.send_unconfirmed_since)), default=None)
    try:
        if unconfirmed_since is not None:
            settled = reply_lookup.reply_settle(client, account, message, since=unconfirmed_since)
            if settled == reply_lookup.FOUND:
                return Attempt("sent")
            if settled == reply_lookup.UNSURE:
                return _twin_wait(message_id, failures, unconfirmed_since)
            reply_unconfirmed_clear(message_id=message_id, claimed_at=claim)
            unconfirmed_since = None  # the earlier sends are over (the rule's wait) and none is on X
        try:
            media_id = _upload(client, message)
        except OSError as exc:  # our stored copy is gone or unreadable: nothing to send
            return _failed(message_id, f"The attached file could not be read from our storage: {exc}")
        # The permit last, right before the POST: its window starts now (ratelimit.py's margin covers the rest).
        permit = _permit_take(account, message_id, can_wait=can_wait)
        if isinstance(permit, ratelimit.Wait):
            return _over_budget(message_id, handle, permit, failures, unconfirmed_since, can_wait=can_wait)
        claim = reply_claim_renew(message_id=message_id, claimed_at=claim, sending_since=started)
        if claim is None:
            log.warning("Reply %s was taken over by the sweeper (this attempt took too long); not sent", message_id)
            return Attempt("skipped", "taken over by the sweeper")
        posting = True
        try:
            sent = _post(client, account, conversation, message.text, media_id)
        except XError as exc:
            ratelimit.observe(account=account, rate_limit=exc.rate_limit, permit=permit)
            if isinstance(exc, RateLimited):  # the whole account waits for X's reset, not only this reply
                paused_until = ratelimit.pause(account=account, until=exc.reset_at)
            if isinstance(exc, Transient):
                unconfirmed_since = started
            else:  # X refused it: it did not take this send
                reply_unconfirmed_clear(message_id=message_id, claimed_at=claim)
            raise
        replies.reply_mark_sent(message_id=message_id, x_event_id=sent.dm_event_id, sent_at=timezone.now())
        ratelimit.observe(account=account, rate_limit=sent.rate_limit, permit=permit)
        return Attempt("sent")
    except ATTEMPT_ERRORS as exc:
        after = _After(handle, failures, unconfirmed_since, posted=posting, paused_until=paused_until)
        return _attempt_failed(message_id, exc, after, can_wait=can_wait)
    finally:
        client.close()


# What an attempt may raise and still tell the task what to do (anything else is a bug, and raises).
ATTEMPT_ERRORS = (RateLimited, ImproperlyConfigured, Transient, AuthError, PermanentError, ValueError)


@dataclass(frozen=True)
class _After:
    """Where a failed attempt stood: whose reply, how many sends went unanswered, whether it had POSTed."""

    handle: str
    failures: int
    unconfirmed_since: datetime | None
    posted: bool
    paused_until: datetime | None


def _attempt_failed(message_id: int, exc: Exception, after: _After, *, can_wait: bool) -> Attempt:
    """What an attempt that raised ``exc`` tells the task: wait for X's reset, look on X before sending again,
    or failed, with words for the agent. The checks go from the narrowest class to the widest."""
    if isinstance(exc, RateLimited):  # the POST's (the account is paused), or the upload's or lookup's own limit
        retry_at = after.paused_until or exc.reset_at
        return _rate_limited(
            message_id, after.handle, retry_at, after.failures, after.unconfirmed_since, can_wait=can_wait
        )
    if isinstance(exc, ImproperlyConfigured):  # malformed DM limits (ratelimit.py): nothing was sent
        return _failed(message_id, f"Sending is not configured correctly: {exc}")
    if isinstance(exc, Transient):
        failures = after.failures + 1
        return _not_answered(message_id, exc, failures, after.unconfirmed_since, posted=after.posted, can_wait=can_wait)
    if isinstance(exc, AuthError):  # includes AccountNeedsReconnection
        # unconfirmed_since still set: the lookup was refused, and an earlier send may be on X
        then = MAY_HAVE_REACHED if after.unconfirmed_since is not None else "Then send the reply again."
        detail = f"Reconnect @{after.handle} under Settings → X accounts: X refused its access ({_reason(exc)})."
        return _failed(message_id, f"{detail} {then}")
    if isinstance(exc, PermanentError):
        if after.unconfirmed_since is not None:
            return _failed(message_id, f"X refused the lookup for this reply ({_reason(exc)}). {MAY_HAVE_REACHED}")
        return _failed(message_id, f"X refused this reply: {_reason(exc)}")
    # ValueError: the client's own checks, before any request
    return _failed(message_id, f"This reply cannot be sent to X: {exc}")


def _ticket(message_id: int) -> str:
    return f"reply:{message_id}"


def _permit_take(account: XAccount, message_id: int, *, can_wait: bool) -> ratelimit.Granted | ratelimit.Wait:
    """A permit for the reply; a turn less than ``INLINE_WAIT_SECONDS`` away is waited for here."""
    ticket = _ticket(message_id) if can_wait else ""
    deadline = time.monotonic() + INLINE_WAIT_SECONDS
    while True:
        permit = ratelimit.permit_take(account=account, ticket=ticket)
        if isinstance(permit, ratelimit.Granted) or not can_wait:
            return permit
        pause = (permit.until - timezone.now()).total_seconds()
        if time.monotonic() + pause > deadline:
            return permit
        time.sleep(max(pause, 0.0))


def _post(
    client: XClient, account: XAccount, conversation: Conversation, text: str, media_id: str | None
) -> SentMessage:
    """Post the message as ``account``: to the customer in a one-to-one conversation, into the group otherwise."""
    if conversation.kind == Conversation.Kind.GROUP:
        return client.dm_send_to_conversation(conversation.x_conversation_id, text=text, media_id=media_id)
    return client.dm_send_to_participant(reply_lookup.recipient(account, conversation), text=text, media_id=media_id)


def _upload(client: XClient, message: Message) -> str | None:
    """Upload the reply's attachment (our stored copy) to X; its media id, or None without one."""
    attachment = message.attachments.first()
    if attachment is None:
        return None
    kind = kind_for(attachment.content_type)
    with attachment.file.open("rb") as stored:
        data = stored.read()
    return client.media_upload(data, media_type=kind.content_type, media_category=kind.category).media_id


def _rate_limited(
    message_id: int,
    handle: str,
    retry_at: datetime,
    failures: int,
    unconfirmed_since: datetime | None,
    *,
    can_wait: bool,
) -> Attempt:
    when = _clock(retry_at)
    if not can_wait:
        detail = f"X's rate limit for @{handle} is used up until {when}; send the reply again then."
        if unconfirmed_since is not None:  # the lookup was refused: an earlier send may be on X
            detail = f"{detail} {MAY_HAVE_REACHED}"
        return _failed(message_id, detail)
    detail = f"X's rate limit for @{handle} is used up; the reply goes out at {when}."
    replies.reply_requeue(message_id=message_id, detail=detail, send_after=retry_at)
    return Attempt("retry", detail, retry_at, failures, unconfirmed_since)


def _over_budget(
    message_id: int,
    handle: str,
    wait: ratelimit.Wait,
    failures: int,
    unconfirmed_since: datetime | None,
    *,
    can_wait: bool,
) -> Attempt:
    """No permit now (ratelimit.py): back to ``queued`` with ``send_after`` at the reply's turn, retried then."""
    when = _clock(wait.until)
    if not can_wait:
        detail = f"The rate limit for @{handle} is used up until {when} ({wait.reason}); send the reply again then."
        return _failed(message_id, detail)
    first = f"; {wait.ahead} earlier {'reply goes' if wait.ahead == 1 else 'replies go'} first" if wait.ahead else ""
    detail = f"Goes out at {when} ({wait.reason}{first})."
    replies.reply_requeue(message_id=message_id, detail=detail, send_after=wait.until)
    return Attempt("retry", detail, wait.until, failures, unconfirmed_since)


def _not_answered(
    message_id: int,
    exc: Transient,
    failures: int,
    unconfirmed_since: datetime | None,
    *,
    posted: bool,
    can_wait: bool,
) -> Attempt:
    """Back to ``queued`` for another attempt ``retry_delay`` from now; failed after the last.

    After a POST X did not answer (``posted``), the next attempt looks on X first, so it is due no
    earlier than ``visibility_margin()`` from now, when our client gave up: X has finished or abandoned
    the request by then (``retry_delay`` sees to it). Inline (``can_wait`` False: inside the agent's
    request) nobody can come back that late: after X's 5xx answer the retry is at once (X has answered, it
    is done with the request), and after no answer at all the reply fails, telling the agent it may have
    reached the customer.
    """
    if posted and not can_wait and exc.status is None:
        return _failed(message_id, f"X did not answer ({exc}). {MAY_HAVE_REACHED}")
    if failures >= MAX_ATTEMPTS:
        detail = f"X did not answer after {failures} attempts (last: {exc})."
        if unconfirmed_since is not None:
            detail = f"{detail} {MAY_HAVE_REACHED}"
        return _failed(message_id, detail)
    retry_at = timezone.now() + timedelta(seconds=retry_delay(failures, posted=posted) if can_wait else 0)
    detail = f"X did not answer ({exc}); trying again at {_clock(retry_at)}."
    replies.reply_requeue(message_id=message_id, detail=detail, send_after=retry_at)
    return Attempt("retry", detail, retry_at, failures, unconfirmed_since)


def _twin_wait(message_id: int, failures: int, unconfirmed_since: datetime | None) -> Attempt:
    """X has a message with the reply's text that another reply, being sent now, may own: look again shortly."""
    retry_at = timezone.now() + timedelta(seconds=TWIN_WAIT_SECONDS)
    detail = (
        "X has a message with this text, and another reply with the same text is being sent now: "
        f"looking on X again at {_clock(retry_at)}."
    )
    replies.reply_requeue(message_id=message_id, detail=detail, send_after=retry_at)
    return Attempt("waiting", detail, retry_at, failures, unconfirmed_since)


def _failed(message_id: int, detail: str) -> Attempt:
    replies.reply_mark_failed(message_id=message_id, detail=detail)
    log.warning("Reply %s failed: %s", message_id, detail)
    return Attempt("failed", detail)


def _reason(exc: PermanentError | AuthError) -> str:
    return exc.detail or exc.title or str(exc)


def _clock(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.date() == datetime.now(UTC).date():
        return moment.strftime("%H:%M:%S UTC")
    return moment.strftime("%d %b %Y %H:%M:%S UTC")
