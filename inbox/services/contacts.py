"""Contacts: X users, created on first sight and refreshed from the profiles payloads carry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime

from django.db import models

from inbox.dm_events import XUserProfile
from inbox.models import Contact
from inbox.services.rows import for_update, in_list, rows_insert, rows_select, rows_update

# Profile fields and contact columns share their names.
_PROFILE_FIELDS = tuple(f.name for f in fields(XUserProfile) if f.name != "x_user_id")
_MAX_LENGTHS = {f.name: f.max_length for f in Contact._meta.concrete_fields if getattr(f, "max_length", None)}
_URL_FIELDS = frozenset(f.name for f in Contact._meta.concrete_fields if isinstance(f, models.URLField))


def contacts_upsert(
    *, x_user_ids: Iterable[str], profiles: Mapping[str, XUserProfile], seen_at: datetime
) -> dict[str, Contact]:
    """Get or create a contact for each X user id and refresh it from ``profiles`` (see ``contacts_upsert_many``)."""
    return contacts_upsert_many(sightings={x_user_id: (profiles.get(x_user_id), seen_at) for x_user_id in x_user_ids})


def contacts_upsert_many(*, sightings: Mapping[str, tuple[XUserProfile | None, datetime]]) -> dict[str, Contact]:
    """Get or create a contact for each X user id in ``sightings`` and refresh it from the profile seen then.

    A profile only overwrites what a newer payload has not already written: fields are updated when the
    time it was seen is not older than the contact's ``profile_refreshed_at``, so replaying an old delivery
    never rolls a profile back. Locks the contacts (``SELECT ... FOR UPDATE``, in X user id order, so
    concurrent ingests take them in the same order); reads, creates and updates them in bulk. A new contact
    is inserted with its profile already applied (one INSERT, no UPDATE); one another transaction created
    meanwhile is read, locked and refreshed as any existing one.
    """
    ids = sorted(sightings)
    contacts = _contacts_locked(ids)
    new = [_new(x_user_id, *sightings[x_user_id]) for x_user_id in ids if x_user_id not in contacts]
    created = {contact.x_user_id for contact in rows_insert(new, ignore_conflicts=True, unique_field="x_user_id")}
    contacts.update((contact.x_user_id, contact) for contact in new if contact.x_user_id in created)
    missing = [x_user_id for x_user_id in ids if x_user_id not in contacts]
    if missing:
        contacts.update(_contacts_locked(missing))
    refreshed: list[Contact] = []
    fields_changed: set[str] = set()
    for x_user_id in ids:
        if x_user_id in created:
            continue
        profile, seen_at = sightings[x_user_id]
        changed = _refresh(contacts[x_user_id], profile, seen_at) if profile is not None else []
        if changed:
            refreshed.append(contacts[x_user_id])
            fields_changed.update(changed)
    if refreshed:
        rows_update(refreshed, sorted(fields_changed))
    return contacts


def _new(x_user_id: str, profile: XUserProfile | None, seen_at: datetime) -> Contact:
    contact = Contact(x_user_id=x_user_id)
    if profile is not None:
        _refresh(contact, profile, seen_at)
    return contact


def _contacts_locked(x_user_ids: list[str]) -> dict[str, Contact]:
    """The contacts of ``x_user_ids`` that exist, locked in X user id order. Raw SQL (``rows_select``): the
    ORM's compiling of this SELECT was a tenth of a one-DM ingest's CPU."""
    if not x_user_ids:
        return {}
    found = rows_select(
        Contact, f"t.x_user_id IN {in_list(x_user_ids)}", x_user_ids, tail=f"ORDER BY t.x_user_id {for_update()}"
    )
    return {contact.x_user_id: contact for contact in found}


def _refresh(contact: Contact, profile: XUserProfile, seen_at: datetime) -> list[str]:
    """Apply ``profile`` to ``contact`` in memory unless a newer one was applied; return the fields changed."""
    if contact.profile_refreshed_at is not None and seen_at < contact.profile_refreshed_at:
        return []
    changed = ["profile_refreshed_at"]
    for name in _PROFILE_FIELDS:
        value = _fitting(name, getattr(profile, name))
        if value is not None and getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.append(name)
    contact.profile_refreshed_at = seen_at
    return changed


def _fitting(name: str, value: object) -> object:
    """``value`` cut to its column's length (a name longer than X allows must not lose the DM); a URL that
    does not fit is left out rather than cut into a broken one."""
    limit = _MAX_LENGTHS.get(name)
    if not isinstance(value, str) or limit is None or len(value) <= limit:
        return value
    return None if name in _URL_FIELDS else value[:limit]
