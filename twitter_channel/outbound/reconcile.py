"""Replies stranded on their way to X, and the rule that keeps them from reaching the customer twice.

``replies_sweep`` (beat task ``twitter_channel.replies_sweep``, every 30 s) finds two kinds:

**Queued, but no task will send it** (the enqueue after commit failed, the broker lost the task, an
eta'd retry died with its worker). Sweeping it means enqueueing ``reply_send`` again, which is always
safe: the task claims the reply under its row lock and sends only a ``queued`` one, so a duplicate task
costs a claim and nothing else. To keep duplicates few, a reply is taken only once its send time
(``send_after``, else its creation) is more than ``GRACE`` past (a task waiting in a backlog has that
long to start), and taking it moves ``send_after`` to now: one extra task per ``GRACE`` at most, however
long it stays stuck. A reply that may have reached X from an attempt X did not answer says so on its
row (``send_unconfirmed_since``), and its new task looks on X first, as every attempt does for such a
reply; one attempted before that row was written (its ``error_detail`` says why it waits) is looked for
from its creation.

**Sending, with a claim older than the lease**: the attempt's worker died (kill -9, OOM, host lost).
Celery redelivers its task (acks_late) some time later; that task finds the reply ``sending`` and sends
nothing (``replies.reply_mark_sending``). The sweeper owns the reply, and decides by this rule:

1. *Wait for the lease.* Every attempt renews its claim (``send_claimed_at``) right before its POST
   (``sending.reply_deliver``); the sweeper acts on a claim older than ``send_lease()`` =
   5 × (``X_CONNECT_TIMEOUT`` + ``X_READ_TIMEOUT``) + ``X_SEND_VISIBILITY_MARGIN`` = 160 s with the
   defaults (3.05 + 20 s, 45 s). Five requests fit after the renewal (a token refresh of an expiring
   token, or waiting for another process's; the POST; a refresh after a 401; the POST again), each given
   up after its timeouts, so an attempt still alive is done with X by then; the margin covers X
   finishing a request that arrived as our client gave up, and X showing an accepted message in the
   conversation's lookup (x-api.md §3 saw it at once there). Until the lease is over, "not on X" proves
   nothing, so nothing is concluded.
2. *Take the reply over* under its row lock (``send_claimed_at`` = now): an attempt still alive finds its
   claim gone when it renews it and stops without calling X, and no other sweep touches the reply for a
   lease.
3. *Look on X* (``reply_lookup.reply_settle``, the lookup a retry uses; its docstring has the rule):
   every message of the conversation on X back to when the reply was written here (minus 2 minutes of
   clock skew), page after page, for one sent by the reply's X account with the reply's text and an
   attachment exactly when it has one, not recorded for another reply of ours. From the reply's
   creation, not only from this claim: an earlier attempt X did not answer may have been waiting to
   retry when the worker died.

   - found → ``sent``, with that event's id and time (the oldest match);
   - absent → only now is it safe to send again: back to ``queued`` and ``reply_send`` enqueued;
   - unsure (another reply with the same text is being sent) → back to ``queued`` and ``reply_send``
     enqueued to look on X first, as a retry does;
   - X cannot be asked now (rate limit, no answer) → left ``sending`` under the sweeper's claim, looked
     at again a lease later;
   - X refuses the account or the lookup → ``failed``, telling the agent it may have reached the customer.

Residual risks: a message X finishes or shows in the lookup later than the margin allows is sent a
second time; the same text sent by the business from X's own app after the reply was written is taken
for the reply (it is then marked sent without having gone: lost, never doubled); a reply with more
messages after it than X's read window lets one lookup page through (1,500 with today's 15 reads per 15
minutes) can never be looked up and waits, never sent twice. A reply that kills its worker every time
is taken back and sent again every lease.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from inbox.models import Message
from inbox.services import replies
from inbox.services.reply_recovery import (
    replies_stale_queued_take,
    replies_stale_sending,
    reply_claim_take_over,
    reply_unconfirmed_clear,
)
from twitter_channel.connection.tokens import client_for
from twitter_channel.models import XAccount
from twitter_channel.outbound import reply_lookup
from twitter_channel.outbound.reply_lookup import send_lease
from twitter_channel.task_names import REPLY_SEND, task
from twitter_channel.x.errors import AuthError, PermanentError, RateLimited, Transient

log = logging.getLogger(__name__)

# A queued reply this long past its send time has lost its task.
GRACE = timedelta(seconds=60)
# Per sweep: replies re-enqueued, and replies reconciled (each costs a lookup: a read of X's, or a few).
QUEUED_BATCH = 200
SENDING_BATCH = 20

MAY_HAVE_REACHED = "It may have reached the customer: look at the conversation on X before sending it again."


@dataclass
class SweepResult:
    requeued: int = 0  # queued replies whose task was enqueued again
    found: int = 0  # stranded sends found on X, now sent
    resent: int = 0  # stranded sends not on X, queued and enqueued again
    later: int = 0  # stranded sends X could not be asked about now, or not told apart from a twin's yet
    failed: int = 0  # stranded sends given up (no account, X refused)


def replies_sweep(*, grace: timedelta = GRACE, lease: timedelta | None = None) -> SweepResult:
    """Re-enqueue queued replies whose task was lost; reconcile sending replies whose worker died."""
    now = timezone.now()
    lease = send_lease() if lease is None else lease
    result = SweepResult()
    for message in replies_stale_queued_take(due_before=now - grace, limit=QUEUED_BATCH):
        _send_enqueue(message.pk, look_first=bool(message.error_detail), since=message.created_at)
        result.requeued += 1
    paused: set[int] = set()  # inboxes whose lookups X rate-limited during this sweep
    for message_id, inbox_id in replies_stale_sending(claimed_before=now - lease, limit=SENDING_BATCH):
        if inbox_id in paused:
            continue
        outcome = reply_reconcile(message_id=message_id, lease=lease)
        if outcome == "rate_limited":
            paused.add(inbox_id)
            outcome = "later"
        if outcome != "busy":
            setattr(result, outcome, getattr(result, outcome) + 1)
    if any((result.requeued, result.found, result.resent, result.later, result.failed)):
        log.info("Replies sweep: %s", result)
    return result


def reply_reconcile(*, message_id: int, lease: timedelta | None = None) -> str:
    """Settle one ``sending`` reply whose claim is older than ``lease`` (default ``send_lease()``) by the rule above.

    Returns ``found``, ``resent``, ``later``, ``rate_limited``, ``failed``, or ``busy`` (not such a reply
    any more, or someone holds its row).
    """
    lease = send_lease() if lease is None else lease
    message = reply_claim_take_over(message_id=message_id, claimed_before=timezone.now() - lease)
    if message is None:
        return "busy"
    account = XAccount.objects.select_related("inbox").filter(inbox_id=message.conversation.inbox_id).first()
    if account is None:
        return _failed(message_id, f"This inbox has no X account any more, so X cannot be asked. {MAY_HAVE_REACHED}")
    client = client_for(account)
    try:
        settled = reply_lookup.reply_settle(client, account, message, since=message.created_at)
    except RateLimited as exc:
        log.warning("Reply %s: cannot look on X for it until %s (%s)", message_id, exc.reset_at, exc)
        return "rate_limited"
    except Transient as exc:
        log.warning("Reply %s: X did not answer the lookup (%s); looking again later", message_id, exc)
        return "later"
    except AuthError as exc:  # includes AccountNeedsReconnection
        return _failed(message_id, f"Reconnect @{account.inbox.handle} under Settings → X accounts: X refused its "
                                   f"access ({exc.detail or exc}). {MAY_HAVE_REACHED}")  # fmt: skip
    except (PermanentError, ValueError) as exc:
        return _failed(message_id, f"Sending stopped; X could not be asked about it: {exc}. {MAY_HAVE_REACHED}")
    finally:
        client.close()
    if settled == reply_lookup.FOUND:
        return "found"
    if settled == reply_lookup.UNSURE:  # a twin being sent may own the match: its task looks again, as a retry does
        detail = "The worker sending this reply stopped; another reply with the same text is being sent: looking again."
        return "later" if _requeue(message_id, detail, look_first_since=message.created_at) else "busy"
    reply_unconfirmed_clear(message_id=message_id, claimed_at=message.send_claimed_at)  # its task need not look
    detail = "The worker sending this reply stopped before it finished, and X does not have it: sending it again."
    if not _requeue(message_id, detail):
        return "busy"
    log.info("Reply %s, interrupted, is not on X; sending it again", message_id)
    return "resent"


def _requeue(message_id: int, detail: str, *, look_first_since: datetime | None = None) -> bool:
    """Back to ``queued``, due now, and ``reply_send`` enqueued after commit (looking on X first from
    ``look_first_since``, when given); False, with nothing enqueued, if the reply was settled meanwhile."""
    requeued = replies.reply_requeue(message_id=message_id, detail=detail, send_after=timezone.now())
    if requeued.delivery_state != Message.DeliveryState.QUEUED:
        return False
    _send_enqueue(message_id, look_first=look_first_since is not None, since=look_first_since)
    return True


def _failed(message_id: int, detail: str) -> str:
    replies.reply_mark_failed(message_id=message_id, detail=detail)
    log.warning("Reply %s failed: %s", message_id, detail)
    return "failed"


def _send_enqueue(message_id: int, *, look_first: bool = False, since: datetime | None = None) -> None:
    """After commit, enqueue ``reply_send``; with ``look_first``, its attempt looks on X (from ``since``) first."""
    kwargs: dict[str, object] = {"message_id": message_id}
    if look_first and since is not None:
        kwargs["unconfirmed_since"] = since.isoformat()

    def enqueue_reply_send() -> None:
        task(REPLY_SEND).apply_async(kwargs=kwargs)

    transaction.on_commit(enqueue_reply_send, robust=True)
