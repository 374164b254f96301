"""Auto-assignment: round robin per inbox over online agents with free capacity.

Opt-in per inbox (``Inbox.auto_assign``). Eligible: agents who work the inbox (``selectors.assignable_agents``),
who are online (``accounts.presence``: their choice is Auto and an inbox page of theirs is open and not
idle, read from the sockets themselves, not from the stored ``User.presence``), with fewer
conversations in ``CAPACITY_STATUSES`` assigned to them (in any inbox) than ``User.capacity``.

Fairness: ``AutoAssignTurn`` keeps, per inbox and agent, when auto-assignment last gave that agent a
conversation there; the eligible agent with the oldest (or no) turn goes next. A time per agent rather
than a cursor over a sorted list, because the eligible set changes all the time (agents go away, fill
up, come back): with times, whoever waited longest goes first, whatever the set looked like before.

What finds no eligible agent waits unassigned (the inbox's queue) and ``auto_assign_pending`` hands it
out oldest first when capacity frees: after a conversation is resolved or unassigned (the services enqueue
``inbox.auto_assign_pending``), and from the beat every minute (``inbox.auto_assign_all``).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import online
from accounts.models import User
from inbox.models import AutoAssignTurn, Conversation, Inbox
from inbox.selectors import access as selectors
from inbox.services.assignment import AssignmentConflict, conversation_assign

log = logging.getLogger(__name__)

# The statuses that use up an agent's capacity.
CAPACITY_STATUSES = (Conversation.Status.OPEN,)
# Most conversations one call hands out, so a task never runs unbounded; the beat picks up the rest.
BATCH = 500


def auto_assign_pending(*, inbox_id: int) -> int:
    """Assign the inbox's waiting conversations (unassigned and open, oldest first) round robin; return how many.

    Each assignment is one transaction that locks, in this order, the inbox row (``SELECT ... FOR UPDATE``:
    one auto-assigner per inbox at a time), the conversation (SKIP LOCKED: one being ingested is left for
    the next run) and the eligible agents' user rows in id order (an agent working two inboxes is never
    filled past capacity by two workers at once). Goes through ``conversation_assign`` with ``actor=None``,
    which writes the ``assigned`` activity row, notifies the agent and publishes ``conversation.updated``
    after commit; and stamps the agent's ``AutoAssignTurn``. Stops when nothing waits or nobody is
    eligible. Does nothing for an inbox with auto-assignment off.
    """
    assigned = 0
    skipped: set[int] = set()
    while assigned < BATCH:
        outcome = _assign_one(inbox_id=inbox_id, skipped=skipped)
        if outcome is None:
            break
        if outcome:
            assigned += 1
    return assigned


def auto_assign_all() -> int:
    """``auto_assign_pending`` for every inbox with auto-assignment on (the beat, every minute)."""
    total = 0
    for inbox_id in Inbox.objects.filter(auto_assign=True).order_by("pk").values_list("pk", flat=True):
        total += auto_assign_pending(inbox_id=inbox_id)
    return total


def eligible_agents(*, inbox_id: int) -> list[User]:
    """Agents who may get the inbox's next conversation, next first, each with ``open_count``.

    Without locks; ``auto_assign_pending`` locks the rows before it trusts the counts.
    """
    candidates = list(
        selectors.assignable_agents(inbox_id)
        .filter(presence_choice=User.PresenceChoice.AUTO)
        .values_list("pk", flat=True)
    )
    active = online.users_active(candidates)
    return list(_ranked(inbox_id, [pk for pk in candidates if pk in active]))


def _ranked(inbox_id: int, user_ids: list[int]) -> list[User]:
    open_count = (
        Conversation.objects.filter(assignee=OuterRef("pk"), status__in=CAPACITY_STATUSES)
        .order_by()
        .values("assignee")
        .annotate(n=Count("pk"))
        .values("n")
    )
    last_turn = AutoAssignTurn.objects.filter(inbox_id=inbox_id, user=OuterRef("pk")).values("last_assigned_at")
    return list(
        User.objects.filter(pk__in=user_ids)
        .annotate(
            open_count=Coalesce(Subquery(open_count, output_field=IntegerField()), Value(0)),
            last_auto_assigned_at=Subquery(last_turn),
        )
        .filter(open_count__lt=F("capacity"))
        .order_by(F("last_auto_assigned_at").asc(nulls_first=True), "open_count", "pk")
    )


def _assign_one(*, inbox_id: int, skipped: set[int]) -> bool | None:
    """One assignment; True: assigned, False: that conversation was taken meanwhile, None: stop."""
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update().filter(pk=inbox_id, auto_assign=True).first()
        if inbox is None:
            return None
        conversation = (
            Conversation.objects.select_for_update(skip_locked=True)
            .filter(inbox_id=inbox_id, assignee__isnull=True, status=Conversation.Status.OPEN)
            .exclude(pk__in=skipped)
            .order_by("created_at", "pk")
            .first()
        )
        if conversation is None:
            return None
        candidates = [agent.pk for agent in eligible_agents(inbox_id=inbox_id)]
        if not candidates:
            return None
        # Lock the agents in id order, then count again: another inbox's worker may just have filled one.
        list(User.objects.select_for_update().filter(pk__in=candidates).order_by("pk").values_list("pk", flat=True))
        ranked = _ranked(inbox_id, candidates)
        if not ranked:
            return None
        agent = ranked[0]
        try:
            conversation_assign(conversation_id=conversation.pk, assignee=agent, actor=None, expected_assignee_id=None)
        except AssignmentConflict:
            skipped.add(conversation.pk)
            return False
        AutoAssignTurn.objects.update_or_create(
            inbox_id=inbox_id, user=agent, defaults={"last_assigned_at": timezone.now()}
        )
        log.info("Auto-assigned conversation %s to user %s", conversation.pk, agent.pk)
        return True
