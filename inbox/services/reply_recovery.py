"""Replies whose send was interrupted: the writes behind ``twitter_channel.outbound.reconcile`` (the sweeper).

A send attempt claims its reply (``replies.reply_mark_sending`` stamps ``send_claimed_at``) and renews
the claim right before it calls X (``reply_claim_renew``), noting then that the reply may reach X
unconfirmed (``send_unconfirmed_since``) until a lookup on X or X's refusal says otherwise
(``reply_unconfirmed_clear``). A reply still ``sending`` long after its last stamp lost its worker; the
sweeper takes it over (``reply_claim_take_over``) and decides from what X has.
A reply ``queued`` long past its send time lost its task; the sweeper takes it (``replies_stale_queued_take``)
and enqueues the task again. Either way the rows are locked, so two sweeps never act on the same reply.
A reply the lookup on X found (``twitter_channel.outbound.reply_lookup``) is recorded with ``reply_mark_found``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inbox.models import Conversation, Message
from inbox.services import replies

State = Message.DeliveryState


def reply_claim_renew(*, message_id: int, claimed_at: datetime | None, sending_since: datetime) -> datetime | None:
    """Renew a send attempt's claim just before it calls X: ``send_claimed_at`` = now, returned.

    Also notes, before the POST leaves, that the reply may reach X unconfirmed from then on:
    ``send_unconfirmed_since`` = ``sending_since`` (the attempt's start), unless an earlier such send is
    noted. So whatever runs the reply next (a retry, a duplicate task, the agent's "send again") looks
    on X before sending, even if this attempt dies or its answer is lost. Only while the reply is still
    ``sending`` under the claim stamped at ``claimed_at`` (the attempt's own); otherwise the sweeper took
    it over meanwhile and None is returned: the attempt must not call X. One conditional UPDATE (the row
    is locked for that statement only). Publishes nothing: nothing the agent sees has changed.
    """
    if claimed_at is None:
        return None
    now = timezone.now()
    renewed = Message.objects.filter(pk=message_id, delivery_state=State.SENDING, send_claimed_at=claimed_at).update(
        send_claimed_at=now, send_unconfirmed_since=Coalesce("send_unconfirmed_since", Value(sending_since))
    )
    return now if renewed else None


def reply_unconfirmed_clear(*, message_id: int, claimed_at: datetime | None) -> bool:
    """Forget ``send_unconfirmed_since``: X has none of the reply's sends (the lookup found none, after the
    wait its rule asks for), or X refused the one just made (a 4xx, a 429: it did not take it).

    Only while the reply is ``sending`` under the attempt's claim ``claimed_at``; True if cleared. One
    conditional UPDATE. Publishes nothing.
    """
    if claimed_at is None:
        return False
    cleared = Message.objects.filter(pk=message_id, delivery_state=State.SENDING, send_claimed_at=claimed_at).update(
        send_unconfirmed_since=None
    )
    return bool(cleared)


def reply_mark_found(*, message_id: int, events: Sequence[tuple[str, datetime]]) -> Message | None:
    """Record reply ``message_id`` as sent as the first of ``events`` that no other reply of ours holds.

    ``events``: X's event ids and times of the messages on X that could be this reply (the lookup's
    matches), oldest first. The events recorded for other replies written here are left out under the
    conversation's lock, so two replies with the same text settled at once never take the same event.
    Returns the reply, now ``sent`` (``replies.reply_mark_sent``: X's event id and time), or None,
    changing nothing, when every event is another reply's. Locks the conversation row, then the message
    row. Publishes after commit what ``reply_mark_sent`` publishes.
    """
    with transaction.atomic():
        conversation_id = Message.objects.values_list("conversation_id", flat=True).get(pk=message_id)
        Conversation.objects.select_for_update().get(pk=conversation_id)  # held until the record commits
        ids = [x_event_id for x_event_id, _ in events]
        taken = set(
            Message.objects.filter(conversation_id=conversation_id, idempotency_key__isnull=False, x_event_id__in=ids)
            .exclude(pk=message_id)
            .values_list("x_event_id", flat=True)
        )
        for x_event_id, created_at in events:
            if x_event_id not in taken:
                return replies.reply_mark_sent(message_id=message_id, x_event_id=x_event_id, sent_at=created_at)
        return None


def reply_claim_take_over(*, message_id: int, claimed_before: datetime) -> Message | None:
    """Take over a ``sending`` reply whose attempt's claim is older than ``claimed_before`` (its worker died).

    Stamps ``send_claimed_at`` = now, the sweeper's own claim: an attempt still alive somewhere finds its
    claim gone when it renews it and stops before calling X, and another sweep leaves the reply alone for
    a lease. A reply claimed before claims were stamped counts from its last change. Returns the message
    (with its conversation), or None when it is no longer such a reply or its row is locked (someone is
    working on it). Locks the message row (skipping it if locked). Publishes nothing: it stays ``sending``.
    """
    now = timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("conversation")
            .filter(pk=message_id, direction=Message.Direction.OUTBOUND, delivery_state=State.SENDING)
            .filter(_claimed_before(claimed_before))
            .first()
        )
        if message is None:
            return None
        message.send_claimed_at = now
        message.save(update_fields=["send_claimed_at", "updated_at"])
        return message


def replies_stale_sending(*, claimed_before: datetime, limit: int) -> list[tuple[int, int]]:
    """``(id, inbox id)`` of ``sending`` replies whose claim is older than ``claimed_before``, oldest first (a read)."""
    stale = Message.objects.filter(direction=Message.Direction.OUTBOUND, delivery_state=State.SENDING).filter(
        _claimed_before(claimed_before)
    )
    ordered = stale.order_by(Coalesce("send_claimed_at", "updated_at"), "pk")
    return list(ordered.values_list("pk", "conversation__inbox_id")[:limit])


def replies_stale_queued_take(*, due_before: datetime, limit: int) -> list[Message]:
    """Take ``queued`` replies due (``send_after``, else their creation) before ``due_before``: their task is lost.

    Each gets ``send_after`` = now, so the next sweeps leave it alone until it is stale again (one extra
    task per grace period at most, however long the reply waits). Returns them, oldest due first; the
    caller enqueues the send task for each after commit. Locks their rows, skipping locked ones (a claim
    under way). Publishes nothing: the reply stays ``queued``.
    """
    now = timezone.now()
    with transaction.atomic():
        taken: list[Message] = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(direction=Message.Direction.OUTBOUND, delivery_state=State.QUEUED)
            .annotate(due=Coalesce("send_after", "created_at"))
            .filter(due__lt=due_before)
            .order_by("due", "pk")[:limit]
        )
        for message in taken:
            message.send_after = now
            message.save(update_fields=["send_after", "updated_at"])
        return taken


def _claimed_before(moment: datetime) -> Q:
    return Q(send_claimed_at__lt=moment) | Q(send_claimed_at__isnull=True, updated_at__lt=moment)
