"""Conversation summaries: what the conversation list shows about a thread, worked out from its stored messages.

A conversation's ``last_message_at``, ``last_message_preview``, ``needs_reply``, ``last_inbound_at`` and
``first_response_at`` are derived, never accumulated message by message: folding each new message into
them made the order of arrival decide whenever two messages shared X's millisecond (or one arrived late),
so a conversation could show a preview that is not X's last message and hide a waiting customer. Every
service that adds, moves or removes a message (ingest, the reply services, undo) calls this module under
the conversation's row lock, and it reads the thread in the thread's own order: X's time, then X's event
id (``x_sequence``; a reply X has not numbered yet comes after the numbered messages of its time), then
our id. Only messages count, not joins and leaves:

- last message: the newest message's time and preview (``message_preview``), whichever way it went;
- needs reply: the newest message is the customer's;
- last inbound: the time of the customer's newest message;
- first response: the time of the business's first message after the customer's first one.

``conversation_summaries_recompute`` does it for any number of conversations in one query (an ingest batch
pays one, however many conversations it touched); ``conversation_summary_refresh`` does it for one and saves.
``conversation_summaries_after_ingest`` spares the query in the common case of an ingest: a conversation whose
new messages are all the customer's and all strictly later than its newest stored message (so neither a tie
on X's time nor a late arrival), whose summary follows from the stored one and those messages alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

from inbox.models import Conversation, Message
from inbox.services.rows import hot_cursor

PREVIEW_LENGTH = 200
SUMMARY_FIELDS = ("last_message_at", "last_message_preview", "needs_reply", "last_inbound_at", "first_response_at")


@dataclass(frozen=True)
class Summary:
    last_message_at: datetime | None
    last_message_preview: str
    needs_reply: bool
    last_inbound_at: datetime | None
    first_response_at: datetime | None


def conversation_summary_refresh(*, conversation: Conversation) -> list[str]:
    """Work ``conversation``'s summary out again from its stored messages; save and return the fields changed.

    The caller holds the conversation's row lock (so no message is added meanwhile) and publishes
    ``conversation.updated`` with the fields returned. Saves ``updated_at`` with them; nothing when unchanged.
    """
    changed = sorted(conversation_summaries_recompute(conversations=[conversation])[conversation.pk])
    if changed:
        conversation.save(update_fields=[*changed, "updated_at"])
    return changed


def conversation_summaries_recompute(*, conversations: Iterable[Conversation]) -> dict[int, set[str]]:
    """Set each conversation's summary fields (in memory) from its stored messages; return, per id, those changed.

    One query for all of them. Saves nothing: the caller saves (``bulk_update`` for a batch) while it still
    holds the conversations' row locks, and publishes.
    """
    by_pk = {conversation.pk: conversation for conversation in conversations}
    summaries = _summaries(by_pk)
    return {
        pk: _applied(conversation, summaries.get(pk) or Summary(None, "", False, None, None))
        for pk, conversation in by_pk.items()
    }


def conversation_summaries_after_ingest(
    *,
    conversations: Iterable[Conversation],
    new_messages: Mapping[int, Sequence[Message]],
    media_types: Mapping[int, str],
) -> dict[int, set[str]]:
    """``conversation_summaries_recompute`` after an ingest stored ``new_messages`` (per conversation id, the
    messages just inserted, ids set); ``media_types`` holds the first attachment's type of those with media.

    A conversation whose new messages are all the customer's and all later than its ``last_message_at`` is
    summed up from its stored summary and them (the newest of them is the thread's newest, so its last
    message and last inbound; it needs a reply; its first response stays, as no reply of the business
    follows them). Every other conversation is recomputed from its messages, all in one query.
    """
    changed: dict[int, set[str]] = {}
    recompute: list[Conversation] = []
    for conversation in conversations:
        summary = _appended(conversation, new_messages.get(conversation.pk, ()), media_types)
        if summary is None:
            recompute.append(conversation)
        else:
            changed[conversation.pk] = _applied(conversation, summary)
    changed.update(conversation_summaries_recompute(conversations=recompute))
    return changed


def _appended(
    conversation: Conversation, messages: Sequence[Message], media_types: Mapping[int, str]
) -> Summary | None:
    """The summary after ``messages`` when they are the customer's and later than the thread's newest, else None."""
    inbound, message = Message.Direction.INBOUND, Message.EventType.MESSAGE_CREATE
    if not messages or any(m.direction != inbound or m.event_type != message for m in messages):
        return None
    last = conversation.last_message_at
    if last is not None and min(m.occurred_at for m in messages) <= last:
        return None
    newest = max(messages, key=_thread_position)
    return Summary(
        last_message_at=newest.occurred_at,
        last_message_preview=message_preview(text=newest.text, media_type=media_types.get(newest.pk, "")),
        needs_reply=True,
        last_inbound_at=newest.occurred_at,
        first_response_at=conversation.first_response_at,
    )


def _thread_position(message: Message) -> tuple[datetime, int, int]:
    """A message's place in the thread (see the module docstring): X's time, X's sequence (unnumbered last), id."""
    return (message.occurred_at, message.x_sequence if message.x_sequence is not None else _UNNUMBERED, message.pk)


_UNNUMBERED = 9223372036854775807


def _applied(conversation: Conversation, summary: Summary) -> set[str]:
    """Set ``summary`` on ``conversation`` in memory; return the fields that changed."""
    changed = set()
    for name in SUMMARY_FIELDS:
        value = getattr(summary, name)
        if getattr(conversation, name) != value:
            setattr(conversation, name, value)
            changed.add(name)
    return changed


def message_preview(*, text: str, media_type: str = "") -> str:
    """The conversation list's one line for a message: its text on one line, or ``[photo]`` for media alone."""
    text = " ".join(text.split())
    if not text and media_type:
        text = f"[{media_type.replace('_', ' ')}]"
    return text[:PREVIEW_LENGTH]


def _summaries(conversation_ids: Iterable[int]) -> dict[int, Summary]:
    ids = list(conversation_ids)
    if not ids:
        return {}
    message, inbound, outbound = Message.EventType.MESSAGE_CREATE, Message.Direction.INBOUND, Message.Direction.OUTBOUND
    with hot_cursor() as cursor:
        cursor.execute(
            _SUMMARIES_SQL.replace("{ids}", ", ".join(["%s"] * len(ids))).replace("{count}", str(len(ids))),
            [outbound, message, message, message, inbound, message, inbound, *ids],
        )
        rows = cursor.fetchall()
    return {
        pk: Summary(
            last_message_at=_datetime(at),
            last_message_preview=message_preview(text=text or "", media_type=media or "") if at else "",
            needs_reply=direction == inbound,
            last_inbound_at=_datetime(inbound_at),
            first_response_at=_datetime(first_reply_at),
        )
        for pk, at, text, direction, media, inbound_at, first_reply_at in rows
    }


def _datetime(value: datetime | str | None) -> datetime | None:
    """A time read with raw SQL: SQLite (unit tests without DATABASE_URL) hands back naive UTC or the text."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


# One statement for PostgreSQL and SQLite alike, written out rather than built with the ORM: the ORM's nested
# subqueries cost about 8 ms of Python to compile, more than the rest of a one-DM ingest. Per conversation (the
# inner SELECT; its LIMIT keeps it from being merged into the outer one, so each of its subqueries runs once) it
# finds the ids of its newest message (walking the thread index backwards) and of the customer's first one
# (forwards), and the time of the customer's newest; then reads those rows by id and, from the customer's
# first message on, the business's first message after it. Only index walks that stop at the first hit and
# lookups by id, whatever the planner knows of the tables: joins here were planned as hashes of whole tables.
# A position is X's sequence, or the end of its time for a reply X has not numbered (as in the thread).
_POSITION = "COALESCE({m}.x_sequence, 9223372036854775807)"
_SUMMARIES_SQL = f"""
SELECT s.conversation_id,
    (SELECT m.occurred_at FROM inbox_message m WHERE m.id = s.newest_id),
    (SELECT m.text FROM inbox_message m WHERE m.id = s.newest_id),
    (SELECT m.direction FROM inbox_message m WHERE m.id = s.newest_id),
    (SELECT a.media_type FROM inbox_messageattachment a WHERE a.message_id = s.newest_id ORDER BY a.id LIMIT 1),
    s.newest_inbound_at,
    (SELECT r.occurred_at FROM inbox_message first_inbound, inbox_message r
        WHERE first_inbound.id = s.first_inbound_id
            AND r.conversation_id = s.conversation_id AND r.direction = %s AND r.event_type = %s
            AND r.occurred_at >= first_inbound.occurred_at
            AND (r.occurred_at > first_inbound.occurred_at
                OR {_POSITION.format(m="r")} > {_POSITION.format(m="first_inbound")}
                OR ({_POSITION.format(m="r")} = {_POSITION.format(m="first_inbound")} AND r.id > first_inbound.id))
        ORDER BY r.occurred_at, r.x_sequence NULLS LAST, r.id LIMIT 1)
FROM (
    SELECT c.id AS conversation_id,
        (SELECT m.id FROM inbox_message m WHERE m.conversation_id = c.id AND m.event_type = %s
            ORDER BY m.occurred_at DESC, m.x_sequence DESC NULLS FIRST, m.id DESC LIMIT 1) AS newest_id,
        (SELECT m.id FROM inbox_message m WHERE m.conversation_id = c.id AND m.event_type = %s AND m.direction = %s
            ORDER BY m.occurred_at, m.x_sequence NULLS LAST, m.id LIMIT 1) AS first_inbound_id,
        (SELECT m.occurred_at FROM inbox_message m
            WHERE m.conversation_id = c.id AND m.event_type = %s AND m.direction = %s
            ORDER BY m.occurred_at DESC LIMIT 1) AS newest_inbound_at
    FROM inbox_conversation c WHERE c.id IN ({{ids}})
    LIMIT {{count}}
) s
"""
