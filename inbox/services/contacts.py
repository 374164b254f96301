"""Contacts: X users, created on first sight and refreshed from the profiles payloads carry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime

from django.db import models

from inbox.dm_events import XUserProfile
from inbox.models import Contact

# Profile fields and contact columns share their names.
_PROFILE_FIELDS = tuple(f.name for f in fields(XUserProfile) if f.name != "x_user_id")
_MAX_LENGTHS = {f.name: f.max_length for f in Contact._meta.concrete_fields if getattr(f, "max_length", None)}
_URL_FIELDS = frozenset(f.name for f in Contact._meta.concrete_fields if isinstance(f, models.URLField))


def contacts_upsert(
    *, x_user_ids: Iterable[str], profiles: Mapping[str, XUserProfile], seen_at: datetime
) -> dict[str, Contact]:
    """Get or create a contact for each X user id and refresh it from ``profiles``.

    A profile only overwrites what a newer payload has not already written: fields are updated
    when ``seen_at`` is not older than the contact's ``profile_refreshed_at``, so replaying an old
    delivery never rolls a profile back. Rows are touched in id order so that concurrent ingests
    lock them in the same order.
    """
    contacts: dict[str, Contact] = {}
    for x_user_id in sorted(set(x_user_ids)):
        contact, _ = Contact.objects.get_or_create(x_user_id=x_user_id)
        profile = profiles.get(x_user_id)
        if profile is not None:
            _refresh(contact, profile, seen_at)
        contacts[x_user_id] = contact
    return contacts


def _refresh(contact: Contact, profile: XUserProfile, seen_at: datetime) -> None:
    if contact.profile_refreshed_at is not None and seen_at < contact.profile_refreshed_at:
        return
    changed = ["profile_refreshed_at"]
    for name in _PROFILE_FIELDS:
        value = _fitting(name, getattr(profile, name))
        if value is not None and getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.append(name)
    contact.profile_refreshed_at = seen_at
    contact.save(update_fields=changed)


def _fitting(name: str, value: object) -> object:
    """``value`` cut to its column's length (a name longer than X allows must not lose the DM); a URL that
    does not fit is left out rather than cut into a broken one."""
    limit = _MAX_LENGTHS.get(name)
    if not isinstance(value, str) or limit is None or len(value) <= limit:
        return value
    return None if name in _URL_FIELDS else value[:limit]
