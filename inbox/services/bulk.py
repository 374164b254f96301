"""Bulk actions from the conversation list: one assignment, status or label change applied to many
conversations, each through the same service (locks, rules, activity rows, events) as a single change."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from accounts.models import Team, User
from inbox import permissions
from inbox.models import Conversation, Label
from inbox.selectors import access as selectors
from inbox.services.assignment import AssignmentError, conversation_assign, conversation_team_set
from inbox.services.conversations import ConversationStatusError, conversation_status_set
from inbox.services.triage import TriageError, conversation_labels_change

BULK_LIMIT = 200
"""Most conversations one bulk action may change (the list shows 50 at a time)."""

BULK_STATUSES = (Conversation.Status.OPEN, Conversation.Status.PENDING, Conversation.Status.RESOLVED)


class BulkError(ValueError):
    """The bulk request itself is wrong (nothing was changed); the message says how."""


@dataclass(frozen=True)
class BulkAction:
    kind: str  # "assign", "team", "status", "label_add" or "label_remove"
    assignee: User | None = None
    team: Team | None = None
    status: str = ""
    label: Label | None = None

    def describe(self) -> str:
        if self.kind == "assign":
            return f"assigned to {self.assignee.display_name}" if self.assignee else "unassigned"
        if self.kind == "team":
            return f"moved to team {self.team.name}" if self.team else "taken out of their team"
        if self.kind == "status":
            return f"marked {Conversation.Status(self.status).label.lower()}"
        verb = "labelled" if self.kind == "label_add" else "unlabelled"
        assert self.label is not None, "a label action names its label (bulk_action_parse)"
        return f"{verb} {self.label.name}"


@dataclass
class BulkOutcome:
    action: BulkAction
    changed: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)

    def summary(self) -> str:
        count = len(self.changed)
        text = f"{count} conversation{'s' if count != 1 else ''} {self.action.describe()}."
        if self.refused:
            text += f" {len(self.refused)} not changed: " + "; ".join(sorted(set(self.refused.values()))) + "."
        return text


def bulk_action_parse(*, kind: str, value: str, actor: User) -> BulkAction:
    """Turn the list form's ``action`` and ``value`` into a ``BulkAction``, or ``BulkError`` saying what is wrong."""
    if kind == "assign":
        if value == "me":
            return BulkAction(kind, assignee=actor)
        if value in ("", "none"):
            return BulkAction(kind)
        assignee = User.objects.filter(pk=int(value), is_active=True).first() if value.isdigit() else None
        if assignee is None:
            raise BulkError(f"No active agent {value!r} to assign to.")
        return BulkAction(kind, assignee=assignee)
    if kind == "team":
        if value in ("", "none"):
            return BulkAction(kind)
        team = Team.objects.filter(pk=int(value)).first() if value.isdigit() else None
        if team is None:
            raise BulkError(f"No such team: {value!r}.")
        return BulkAction(kind, team=team)
    if kind == "status":
        if value not in BULK_STATUSES:
            raise BulkError(f"Unknown status {value!r}; bulk actions set one of {', '.join(BULK_STATUSES)}.")
        return BulkAction(kind, status=value)
    if kind in ("label_add", "label_remove"):
        label = Label.objects.filter(pk=int(value)).first() if value.isdigit() else None
        if label is None:
            raise BulkError(f"No such label: {value!r}.")
        return BulkAction(kind, label=label)
    raise BulkError(f"Unknown bulk action {kind!r}; use assign, team, status, label_add or label_remove.")


def conversations_bulk_apply(*, actor: User, conversation_ids: Iterable[int], action: BulkAction) -> BulkOutcome:
    """Apply ``action`` to each conversation the actor can see, one transaction per conversation.

    A conversation the actor cannot see, or that the rules refuse (an agent reassigning someone else's
    conversation), is listed in ``refused`` with the reason; the others are changed. Raises
    ``BulkError`` before changing anything when the actor may not write or the request is too big.
    """
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        raise BulkError("Select at least one conversation.")
    if len(ids) > BULK_LIMIT:
        raise BulkError(f"At most {BULK_LIMIT} conversations at once; {len(ids)} were selected.")
    if not permissions.may_write(actor):
        raise BulkError(permissions.READ_ONLY)
    visible = set(
        Conversation.objects.filter(pk__in=ids, inbox__in=selectors.inboxes_visible_to(actor).values("pk")).values_list(
            "pk", flat=True
        )
    )
    apply = _applier(action, actor)
    outcome = BulkOutcome(action)
    for conversation_id in ids:
        if conversation_id not in visible:
            outcome.refused[conversation_id] = "not in your inboxes"
            continue
        try:
            apply(conversation_id)
        except (AssignmentError, ConversationStatusError, TriageError) as exc:
            outcome.refused[conversation_id] = str(exc).rstrip(".")
        else:
            outcome.changed.append(conversation_id)
    return outcome


def _applier(action: BulkAction, actor: User) -> Callable[[int], object]:
    if action.kind == "assign":
        return lambda pk: conversation_assign(conversation_id=pk, assignee=action.assignee, actor=actor)
    if action.kind == "team":
        return lambda pk: conversation_team_set(conversation_id=pk, team=action.team, actor=actor)
    if action.kind == "status":
        return lambda pk: conversation_status_set(conversation_id=pk, status=action.status, actor=actor)
    label = action.label
    assert label is not None, "a label action names its label (bulk_action_parse)"
    if action.kind == "label_add":
        return lambda pk: conversation_labels_change(conversation_id=pk, actor=actor, add=[label.pk])
    return lambda pk: conversation_labels_change(conversation_id=pk, actor=actor, remove=[label.pk])
