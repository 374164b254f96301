"""Canned responses: saved replies an agent inserts with ``/shortcut``, with placeholders filled in.

Placeholders are plain text substitutions, never template code: ``{{contact.name}}``,
``{{contact.handle}}``, ``{{agent.name}}`` and ``{{inbox.handle}}``. An unknown one is left as written
so the agent sees it before sending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

from accounts.models import User
from inbox.models import CannedResponse, Conversation

SUGGESTIONS = 8
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")


@dataclass(frozen=True)
class Suggestion:
    shortcut: str
    title: str
    text: str


def canned_fill(body: str, *, conversation: Conversation, agent: User) -> str:
    contact = conversation.contact
    values = {
        "contact.name": (contact.name or contact.handle) if contact else "there",
        "contact.handle": f"@{contact.handle}" if contact and contact.handle else "",
        "agent.name": agent.display_name,
        "inbox.handle": f"@{conversation.inbox.handle}",
    }
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)


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
