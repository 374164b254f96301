"""Celery tasks of the inbox. Thin: they call one service."""

from __future__ import annotations

from celery import shared_task

from inbox.services.conversations import snoozes_wake


@shared_task(name="inbox.snoozes_wake", ignore_result=True)
def wake_snoozed_conversations() -> int:
    """Beat, every minute: reopen conversations whose snooze time has passed."""
    return snoozes_wake()


@shared_task(name="inbox.auto_assign_pending", ignore_result=True)
def auto_assign_pending(inbox_id: int) -> int:
    """After a new, resolved or unassigned conversation: hand the inbox's waiting conversations out."""
    from inbox.services.auto_assign import auto_assign_pending as assign

    return assign(inbox_id=inbox_id)


@shared_task(name="inbox.auto_assign_all", ignore_result=True)
def auto_assign_all() -> int:
    """Beat, every minute: auto-assign what waits in every inbox that has auto-assignment on."""
    from inbox.services.auto_assign import auto_assign_all as assign_all

    return assign_all()


@shared_task(name="inbox.agent_status_sweep", ignore_result=True)
def agent_status_sweep() -> int:
    """Beat, every minute: correct the presence stored for agents whose server died with their pages open."""
    from inbox.services.agent_status import agent_status_sweep as sweep

    return sweep()
