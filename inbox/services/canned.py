"""Canned responses: saved replies an agent inserts with ``/shortcut`` (``inbox.selectors.canned`` finds and
fills them in). Admins keep them on Settings → Canned responses (leads those of their inboxes), superusers
also in the Django admin; both write through these functions.

Each checks the row as the model does (``full_clean``: lengths, a shortcut that is a slug and unique)
and that every ``{{…}}`` is a placeholder the composer fills, and raises Django's ``ValidationError``
keyed by field. ``actor`` is who makes the change in the app: they must be allowed to keep canned
responses for the inbox (``inbox.selectors.canned.canned_may_manage``), before and after the change,
else ``CannedForbidden``.
``actor=None`` is the Django admin, whose own permissions decided.

No activity row is written (the audit log holds conversations' activity) and nothing is published: the
composer asks when an agent types ``/``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import User
from inbox.models import CannedResponse, Inbox
from inbox.selectors.canned import PLACEHOLDERS, canned_may_manage, canned_unknown_placeholders


class CannedForbidden(PermissionDenied):
    """``actor`` may not keep canned responses for that inbox (or for every inbox)."""


def canned_response_create(
    *, shortcut: str, title: str, body: str, inbox: Inbox | None, created_by: User | None, actor: User | None = None
) -> CannedResponse:
    """A new canned response, for ``inbox`` only or (``inbox=None``) for every inbox."""
    _require(actor, inbox)
    canned = CannedResponse(
        shortcut=shortcut.strip(), title=title.strip(), body=body, inbox=inbox, created_by=created_by
    )
    _check(canned)
    canned.save()
    return canned


def canned_response_update(
    *,
    canned_response: CannedResponse,
    shortcut: str,
    title: str,
    body: str,
    inbox: Inbox | None,
    actor: User | None = None,
) -> CannedResponse:
    """Change a canned response's shortcut, title, text or inbox (who made it stays). Locks its row."""
    with transaction.atomic():
        canned = (
            CannedResponse.objects.select_for_update(of=("self",)).select_related("inbox").get(pk=canned_response.pk)
        )
        _require(actor, canned.inbox)
        _require(actor, inbox)
        canned.shortcut, canned.title, canned.body, canned.inbox = shortcut.strip(), title.strip(), body, inbox
        _check(canned)
        canned.save(update_fields=["shortcut", "title", "body", "inbox"])
    return canned


def canned_response_delete(*, canned_response: CannedResponse, actor: User | None = None) -> None:
    """Delete a canned response: agents are no longer offered it."""
    with transaction.atomic():
        canned = (
            CannedResponse.objects.select_for_update(of=("self",)).select_related("inbox").filter(pk=canned_response.pk)
        )
        row = canned.first()
        if row is None:
            return
        _require(actor, row.inbox)
        row.delete()


def _require(actor: User | None, inbox: Inbox | None) -> None:
    if actor is not None and not canned_may_manage(actor, inbox):
        where = f"@{inbox.handle}" if inbox else "every inbox"
        raise CannedForbidden(f"You may not keep canned responses for {where}.")


def canned_response_check(canned: CannedResponse) -> None:
    """What canned responses need beyond the model's own checks (the Django admin's form runs those): no
    placeholder the composer would leave as written. Raises ``ValidationError`` keyed ``body``."""
    unknown = canned_unknown_placeholders(canned.body)
    if unknown:
        known = ", ".join(f"{{{{{name}}}}}" for name in PLACEHOLDERS)
        raise ValidationError(
            {"body": f"Unknown placeholder{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: use {known}."}
        )


def _check(canned: CannedResponse) -> None:
    errors: dict[str, list[str]] = {}
    for check in (canned.full_clean, lambda: canned_response_check(canned)):
        try:
            check()
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
