"""Labels, the names and colours agents sort conversations with. Admins keep them on Settings → Labels,
superusers also in the Django admin; both write through these functions.

Each checks the row as the model does (``full_clean``: lengths, a unique name), a name not taken in any
case, and a colour written ``#rrggbb``, and raises Django's ``ValidationError`` keyed by field. ``actor``
is who makes the change in the app and must be an admin (``inbox.permissions.may_manage_labels``), else
``LabelForbidden``; ``actor=None`` is the Django admin, whose own permissions decided.

None writes activity rows or publishes: a label's new name or colour, or its absence once deleted, shows
when a page next fetches a conversation's row or thread. (Putting labels on a conversation is
``inbox.services.triage``.)
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from inbox.models import Label
from inbox.permissions import may_manage_labels

COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class LabelForbidden(PermissionDenied):
    """Only admins change labels."""


def label_create(*, name: str, color: str = "", description: str = "", actor: User | None = None) -> Label:
    """A new label (``color`` blank: the model's grey)."""
    _require(actor)
    label = Label(name=name.strip(), description=description.strip())
    if color:
        label.color = color.strip().lower()
    return _save(label, fields=None)


def label_update(*, label: Label, name: str, color: str, description: str, actor: User | None = None) -> Label:
    """Rename, recolour or redescribe ``label``; conversations keep it. Locks its row."""
    _require(actor)
    with transaction.atomic():
        locked = Label.objects.select_for_update().get(pk=label.pk)
        locked.name, locked.color, locked.description = name.strip(), color.strip().lower(), description.strip()
        _save(locked, fields=["name", "color", "description"])
    label.name, label.color, label.description = locked.name, locked.color, locked.description
    return locked


def label_delete(*, label: Label, actor: User | None = None) -> None:
    """Delete ``label``: every conversation that had it loses it, without an activity row (see the module
    docstring)."""
    _require(actor)
    label.delete()


def _require(actor: User | None) -> None:
    if actor is not None and not may_manage_labels(actor):
        raise LabelForbidden("Only admins change labels.")


def label_check(label: Label) -> None:
    """What labels need beyond the model's own checks (the Django admin's form runs those): a colour
    written ``#rrggbb`` and a name no other label has in any case. Raises ``ValidationError`` by field."""
    errors: dict[str, list[str]] = {}
    if not COLOR.fullmatch(label.color or ""):
        errors["color"] = [f"A colour is written #rrggbb, like #ef4444; {label.color!r} is not one."]
    # The same name exactly is the model's own unique check, with its own message.
    others = Label.objects.filter(name__iexact=label.name).exclude(pk=label.pk).exclude(name=label.name)
    if label.name and others.exists():
        errors["name"] = [f"There is already a label named {label.name!r} (in any case)."]
    if errors:
        raise ValidationError(errors)


def _save(label: Label, *, fields: list[str] | None) -> Label:
    errors: dict[str, list[str]] = {}
    for check in (label.full_clean, lambda: label_check(label)):
        try:
            check()
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, messages)  # one message per field: the model's first
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            label.save(update_fields=fields)
    except IntegrityError:  # made at the same moment by someone else
        raise ValidationError({"name": [f"There is already a label named {label.name!r}."]}) from None
    return label
