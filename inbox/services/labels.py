"""Labels, the names and colours agents sort conversations with. The app has no page for them yet: admins
keep them in the Django admin, which writes through these functions.

Each checks the row as the model does (``full_clean``: lengths, a unique name) and raises Django's
``ValidationError``. None writes activity rows or publishes: a label's new name or colour, or its absence
once deleted, shows when a page next fetches a conversation's row or thread. (Putting labels on a
conversation is ``inbox.services.triage``.)
"""

from __future__ import annotations

from inbox.models import Label


def label_create(*, name: str, color: str = "", description: str = "") -> Label:
    """A new label (``color`` blank: the model's grey)."""
    label = Label(name=name, description=description)
    if color:
        label.color = color
    label.full_clean()
    label.save()
    return label


def label_update(*, label: Label, name: str, color: str, description: str) -> Label:
    """Rename, recolour or redescribe ``label``; conversations keep it."""
    label.name, label.color, label.description = name, color, description
    label.full_clean()
    label.save(update_fields=["name", "color", "description"])
    return label


def label_delete(*, label: Label) -> None:
    """Delete ``label``: every conversation that had it loses it, without an activity row (see the module
    docstring)."""
    label.delete()
