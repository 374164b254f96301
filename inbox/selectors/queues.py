"""The views of the conversation list ("Mine", "Unassigned", per team ...): what each one shows.

A view is a key in the URL (``?view=mine``); its filter is applied by ``list_selectors``, on top of
the inboxes the agent may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from accounts.models import User
from inbox.models import Conversation

Status = Conversation.Status

DEFAULT_VIEW = "open"


@dataclass(frozen=True)
class QueueView:
    key: str
    label: str
    status: str | None
    counted: bool = True

    def filter(self, user: User) -> Q:
        q = Q(status=self.status) if self.status else Q()
        if self.key == "mine":
            q &= Q(assignee=user)
        elif self.key == "unassigned":
            q &= Q(assignee__isnull=True)
        elif self.key.startswith("team-"):
            q &= Q(team_id=int(self.key.removeprefix("team-")))
        elif self.key.startswith("account-"):
            q &= Q(inbox_id=int(self.key.removeprefix("account-")))
        return q


FIXED_VIEWS = (
    QueueView("mine", "Mine", Status.OPEN),
    QueueView("unassigned", "Unassigned", Status.OPEN),
    QueueView("open", "All open", Status.OPEN),
    QueueView("pending", "Pending", Status.PENDING),
    QueueView("snoozed", "Snoozed", Status.SNOOZED),
    # History grows without bound; its size is not a queue anyone works down, so it is not counted.
    QueueView("resolved", "Resolved", Status.RESOLVED, counted=False),
    QueueView("all", "All conversations", None, counted=False),
)
_FIXED = {view.key: view for view in FIXED_VIEWS}


class UnknownView(ValueError):
    pass


def view_for(key: str | None, *, team_ids: set[int], inbox_ids: set[int]) -> QueueView:
    """The view named ``key``; team and account views only for teams and inboxes the agent has."""
    key = key or DEFAULT_VIEW
    if key in _FIXED:
        return _FIXED[key]
    kind, _, number = key.partition("-")
    if number.isdigit() and (
        (kind == "team" and int(number) in team_ids) or (kind == "account" and int(number) in inbox_ids)
    ):
        return QueueView(key, "", Status.OPEN)
    known = ", ".join(_FIXED)
    raise UnknownView(f"Unknown view {key!r}; use one of: {known}, team-<id> or account-<id> of your own.")
