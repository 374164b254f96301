"""Canned responses: saved replies an agent inserts with ``/shortcut``, with placeholders filled in; and who
may manage which of them on the Settings pages.

Placeholders are plain text substitutions, never template code: ``{{contact.name}}``,
``{{contact.handle}}``, ``{{agent.name}}`` and ``{{inbox.handle}}``. An unknown one is left as written
so the agent sees it before sending (the Settings page refuses to save one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.models import User
from inbox.models import CannedResponse, Conversation, Inbox
from inbox.selectors.access import inboxes_visible_to

SUGGESTIONS = 8
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
# Anything that looks like a placeholder, even misspelt ({{Contact.Name}}, {{ name }}): named by the preview.
PLACEHOLDER_LIKE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PLACEHOLDERS = ("contact.name", "contact.handle", "agent.name", "inbox.handle")
SAMPLE_CONTACT = ("María Fernández", "maria_codes")
SAMPLE_INBOX = "AcmeSupport"


@dataclass(frozen=True)
class Suggestion:
    shortcut: str
    title: str
    text: str


@dataclass(frozen=True)
class Preview:
    """A canned response's text filled in for a sample contact, and the placeholders it does not know."""

    text: str
    unknown: list[str]


def _fill(body: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def canned_fill(body: str, *, conversation: Conversation, agent: User) -> str:
    contact = conversation.contact
    values = {
        "contact.name": (contact.name or contact.handle) if contact else "there",
        "contact.handle": f"@{contact.handle}" if contact and contact.handle else "",
        "agent.name": agent.display_name,
        "inbox.handle": f"@{conversation.inbox.handle}",
    }
    return _fill(body, values)


def canned_preview(body: str, *, agent: User, inbox: Inbox | None = None) -> Preview:
    """``body`` as an agent would insert it for a sample customer (María, @maria_codes), signed by ``agent``
    in ``inbox`` (the demo's @AcmeSupport when for every inbox), and the placeholders it does not know."""
    name, handle = SAMPLE_CONTACT
    values = {
        "contact.name": name,
        "contact.handle": f"@{handle}",
        "agent.name": agent.display_name,
        "inbox.handle": f"@{inbox.handle if inbox else SAMPLE_INBOX}",
    }
    return Preview(text=_fill(body, values), unknown=canned_unknown_placeholders(body))


def canned_unknown_placeholders(body: str) -> list[str]:
    """Each ``{{…}}`` in ``body`` that is not one of ``PLACEHOLDERS``, as written, once, in order."""
    unknown: list[str] = []
    for match in PLACEHOLDER_LIKE.finditer(body):
        if match.group(1) not in PLACEHOLDERS and match.group(0) not in unknown:
            unknown.append(match.group(0))
    return unknown


def canned_suggestions(*, conversation: Conversation, agent: User, prefix: str) -> list[Suggestion]:
    """The canned responses of this inbox (or of every inbox) whose shortcut starts with ``prefix``, filled in."""
    found = (
        CannedResponse.objects.filter(Q(inbox__isnull=True) | Q(inbox_id=conversation.inbox_id))
        .filter(shortcut__istartswith=prefix)
        .order_by("shortcut")[:SUGGESTIONS]
    )
    return [
        Suggestion(shortcut=c.shortcut, title=c.title, text=canned_fill(c.body, conversation=conversation, agent=agent))
        for c in found
    ]


# Who manages which -------------------------------------------------------------------------------


def canned_inboxes_manageable(user: User) -> QuerySet[Inbox]:
    """The inboxes whose canned responses ``user`` may add, change and delete: admins every inbox, leads
    the inboxes they work (directly or through a team), nobody else any."""
    if not user.is_active:
        return Inbox.objects.none()
    if user.is_admin:
        return Inbox.objects.all()
    if user.role == User.Role.LEAD:
        return inboxes_visible_to(user)
    return Inbox.objects.none()


def canned_may_manage(user: User, inbox: Inbox | None) -> bool:
    """Whether ``user`` may keep a canned response for ``inbox``; for every inbox (``None``): admins only,
    as it reaches inboxes a lead does not work."""
    if not user.is_active:
        return False
    if inbox is None or user.is_admin:
        return user.is_admin
    return canned_inboxes_manageable(user).filter(pk=inbox.pk).exists()


def canned_responses_for_settings(user: User) -> QuerySet[CannedResponse]:
    """What the Settings page lists for ``user``: admins every canned response; leads those of their
    inboxes and those for every inbox (which their agents are offered too, shown to them read-only)."""
    rows = CannedResponse.objects.select_related("inbox", "created_by").order_by("shortcut")
    if user.is_active and user.is_admin:
        return rows
    inboxes = canned_inboxes_manageable(user)
    if not inboxes.exists():
        return rows.none()
    return rows.filter(Q(inbox__isnull=True) | Q(inbox__in=inboxes.values("pk")))


def canned_response_for_settings(user: User, canned_id: int) -> CannedResponse | None:
    """The canned response ``canned_id`` if ``user`` may change it; None otherwise, as for a missing id."""
    canned = CannedResponse.objects.select_related("inbox").filter(pk=canned_id).first()
    if canned is None or not canned_may_manage(user, canned.inbox):
        return None
    return canned
