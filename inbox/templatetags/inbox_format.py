"""Template filters that show X's data safely: DM text with its links, relative times, profile URLs.

DM text is hostile input. Everything from X is escaped; the only markup added here is links built from
X's own entities, and only to http(s) addresses, opening in a new tab without a referrer or opener.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

if TYPE_CHECKING:
    from accounts.models import Team, User
    from inbox.models import Conversation, ConversationEvent, Label

register = template.Library()

LINK = '<a href="{}" target="_blank" rel="noopener noreferrer nofollow">{}</a>'


def _web_url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


@register.filter
def web_url(value: object) -> str:
    """``value`` when it is an http(s) URL, else an empty string (so ``javascript:`` never lands in an href)."""
    return _web_url(value) or ""


def _spans(entities: Mapping[str, object], length: int) -> list[tuple[int, int, str | None, str]]:
    """(start, end, href or None to drop the text, label) for links and mentions, in order, not overlapping."""
    spans: list[tuple[int, int, str | None, str]] = []
    urls = entities.get("urls") if isinstance(entities, Mapping) else None
    for url in urls if isinstance(urls, Sequence) else ():
        if not isinstance(url, Mapping) or not isinstance(url.get("start"), int) or not isinstance(url.get("end"), int):
            continue
        if url.get("media"):
            spans.append((url["start"], url["end"], None, ""))
            continue
        href = _web_url(url.get("expanded_url")) or _web_url(url.get("url"))
        if href:
            label = url.get("display_url") or url.get("expanded_url") or href
            spans.append((url["start"], url["end"], href, str(label)))
    mentions = entities.get("mentions") if isinstance(entities, Mapping) else None
    for mention in mentions if isinstance(mentions, Sequence) else ():
        if isinstance(mention, Mapping) and isinstance(mention.get("username"), str):
            start, end = mention.get("start"), mention.get("end")
            if isinstance(start, int) and isinstance(end, int):
                username = mention["username"]
                spans.append((start, end, f"https://x.com/{quote(username)}", f"@{username}"))
    spans = sorted(s for s in spans if 0 <= s[0] < s[1] <= length)
    kept: list[tuple[int, int, str | None, str]] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


@register.filter
def dm_text(text: str, entities: Mapping[str, object] | None = None) -> SafeString:
    """DM text, escaped, with X's t.co links shown as their real address and the attachment link hidden."""
    text = text or ""
    pieces: list[str] = []
    position = 0
    for start, end, href, label in _spans(entities or {}, len(text)):
        pieces.append(escape(text[position:start]))
        if href is not None:
            pieces.append(format_html(LINK, href, label))
        position = end
    pieces.append(escape(text[position:]))
    return mark_safe("".join(pieces).strip())  # noqa: S308  every piece above is escaped or format_html


@register.filter
def ago(value: datetime | None) -> str:
    """A short relative time: "now", "5m", "3h", "2d", or the date for anything older than a week."""
    if value is None:
        return ""
    seconds = (timezone.now() - value).total_seconds()
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    if seconds < 7 * 86400:
        return f"{int(seconds // 86400)}d"
    local = timezone.localtime(value)
    return f"{local:%b} {local.day}" + (f", {local.year}" if local.year != timezone.localtime().year else "")


@register.filter
def since(value: datetime | None) -> str:
    """How long ago, in words: "just now" under a minute, then "1 minute ago", "3 hours ago", "2 days ago"."""
    if value is None:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def initials(name: str) -> str:
    words = [w for w in (name or "").replace("@", " ").split() if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"


@register.filter
def when(value: datetime | None, precision: str = "") -> str:
    """An absolute time in the active (the agent's) zone: "08:27" today, "8 Dec 2026, 08:27" otherwise;
    ``when:"seconds"`` adds the seconds. ``static/js/zone.js`` writes times the same way in the browser."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    clock = f"{local:%H:%M:%S}" if precision == "seconds" else f"{local:%H:%M}"
    if local.date() == timezone.localdate():
        return clock
    return f"{local.day} {local:%b} {local.year}, {clock}"


@register.simple_tag
def snooze_options(now: datetime | None = None) -> list[tuple[str, str]]:
    """(label, ISO time) of the snooze choices in the agent's time zone (the request's active zone,
    ``accounts.time_zones.TimeZoneMiddleware``): an hour from now, tomorrow 09:00, next Monday 09:00."""
    now = timezone.localtime(now)
    zone = now.tzinfo
    today = now.date()
    tomorrow = _at_nine(today + timedelta(days=1), zone)
    monday = _at_nine(today + timedelta(days=7 - today.weekday()), zone)
    return [
        ("For 1 hour", (now + timedelta(hours=1)).replace(microsecond=0).isoformat()),
        (f"Until tomorrow {tomorrow:%H:%M}", tomorrow.isoformat()),
        (f"Until Monday {monday:%H:%M}", monday.isoformat()),
    ]


def _at_nine(day: date, zone: tzinfo | None) -> datetime:
    """09:00 on ``day`` in ``zone`` (its own UTC offset that day, so across a DST change too)."""
    return datetime.combine(day, time(9, 0), tzinfo=zone)


@register.simple_tag
def assignable_agents(conversation: Conversation) -> list[User]:
    """Who a lead may assign ``conversation`` to (one query; the header shows it to leads and admins only)."""
    from inbox.selectors import access as selectors

    return list(selectors.assignable_agents(conversation.inbox_id))


@register.simple_tag
def teams_for(conversation: Conversation) -> list[Team]:
    """The teams that work ``conversation``'s inbox (the header's team picker, for leads and admins)."""
    return list(conversation.inbox.teams.all())


@register.simple_tag
def labels_for(conversation: Conversation) -> list[tuple[Label, bool]]:
    """Every label, and whether ``conversation`` has it (for the header's label picker)."""
    from inbox.models import Label

    chosen = {label.pk for label in conversation.labels.all()}
    return [(label, label.pk in chosen) for label in Label.objects.all()]


@register.filter
def duration_words(value: timedelta | None) -> str:
    """A duration the way a support lead reads it: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if value is None:
        return ""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours == 0:
        return f"{minutes} min"
    if days == 0:
        rest = minutes - hours * 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours - days * 24
    return f"{days} d {rest} h" if rest else f"{days} d"


@register.filter
def may_write(user: Any) -> bool:
    """Whether ``user`` may change conversations (everyone but social managers): the list's checkboxes."""
    from inbox import permissions

    return bool(getattr(user, "is_authenticated", False)) and permissions.may_write(user)


@register.filter
def css_color(value: str) -> str:
    """``value`` if it is a hex colour (#rgb to #rrggbbaa), else a neutral grey: it goes into a style attribute."""
    return value if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{3,8}", value) else "#6b7280"


STATUS_NAMES = {"open": "Open", "pending": "Pending", "snoozed": "Snoozed", "resolved": "Resolved"}
PRIORITY_NAMES = {0: "none", 1: "low", 2: "medium", 3: "high", 4: "urgent"}


@register.filter
def activity_text(event: ConversationEvent) -> str:
    """One line of a conversation's activity log, in words (escaped by the template like any text)."""
    who = event.actor.display_name if event.actor else "Backchannel"
    p = event.parameters
    kind = event.kind
    if kind == "reopened":
        return f"Reopened: the customer wrote while it was {STATUS_NAMES.get(p.get('previous_status'), 'closed')}"
    if kind == "status_changed":
        until = " until the customer writes" if p.get("new") == "snoozed" and not p.get("snoozed_until") else ""
        if event.actor is None and p.get("old") == "snoozed":
            return "The snooze ended: open again"
        old, new = STATUS_NAMES.get(p.get("old"), "?"), STATUS_NAMES.get(p.get("new"), "?")
        return f"{who} changed the status from {old} to {new}{until}"
    if kind == "assigned":
        if p.get("new_assignee_name"):
            return f"{who} assigned it to {p['new_assignee_name']}"
        return f"{who} unassigned {p.get('old_assignee_name') or 'it'}"
    if kind == "team_assigned":
        if p.get("new_team_name"):
            return f"{who} moved it to team {p['new_team_name']}"
        return f"{who} took it out of team {p.get('old_team_name') or '?'}"
    if kind == "priority_changed":
        return f"{who} set the priority to {PRIORITY_NAMES.get(p.get('new'), '?')}"
    if kind == "labels_changed":
        parts = [f"added {', '.join(p['added'])}" if p.get("added") else "",
                 f"removed {', '.join(p['removed'])}" if p.get("removed") else ""]  # fmt: skip
        return f"{who} {' and '.join(x for x in parts if x)} (labels)"
    if kind in ("participant_joined", "participant_left"):
        return (
            f"{_participant_name(p.get('x_user_id'))} {'joined' if kind == 'participant_joined' else 'left'} the group"
        )
    if kind == "note_added":
        return f"{who} added an internal note"
    # Backchannel's own changes (no actor) read as what happened, without "Backchannel:" before it
    return f"{who}: {event.get_kind_display()}" if event.actor else event.get_kind_display()


def _participant_name(x_user_id: object) -> str:
    """Who joined or left a group DM: the contact's name (or @handle), else X's user id."""
    from inbox.models import Contact

    contact = Contact.objects.filter(x_user_id=str(x_user_id)).first() if x_user_id else None
    return contact.display_name if contact else f"X user {x_user_id or '?'}"
