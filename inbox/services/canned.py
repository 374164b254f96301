"""Canned responses: saved replies an agent inserts with ``/shortcut`` (``inbox.selectors.canned`` finds and
fills them in). The app has no page for them yet: admins keep them in the Django admin, which writes
through these functions.

Each checks the row as the model does (``full_clean``: lengths, a shortcut that is a slug and unique)
and raises Django's ``ValidationError``. Nothing is published: the composer asks when an agent types ``/``.
"""

from __future__ import annotations

from accounts.models import User
from inbox.models import CannedResponse, Inbox


def canned_response_create(
    *, shortcut: str, title: str, body: str, inbox: Inbox | None, created_by: User | None
) -> CannedResponse:
    """A new canned response, for ``inbox`` only or (``inbox=None``) for every inbox."""
    canned = CannedResponse(shortcut=shortcut, title=title, body=body, inbox=inbox, created_by=created_by)
    canned.full_clean()
    canned.save()
    return canned


def canned_response_update(
    *, canned_response: CannedResponse, shortcut: str, title: str, body: str, inbox: Inbox | None
) -> CannedResponse:
    """Change a canned response's shortcut, title, text or inbox (who made it stays)."""
    canned = canned_response
    canned.shortcut, canned.title, canned.body, canned.inbox = shortcut, title, body, inbox
    canned.full_clean()
    canned.save(update_fields=["shortcut", "title", "body", "inbox"])
    return canned


def canned_response_delete(*, canned_response: CannedResponse) -> None:
    canned_response.delete()
