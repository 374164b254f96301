"""Processing locked webhook deliveries: read each, ingest all their DMs together per account, then signals.

Three steps for a batch:

1. each delivery is read on its own (``_read``): parsed, routed by ``for_user_id`` to the X account whose
   inbox has that user id, revokes applied; one that cannot be read or routed ends failed or ignored
   without touching the others;
2. the DM events of every delivery routed to the same account go to ``account_events_ingest`` in one
   call, so a batch costs a few statements rather than a dozen per DM; an event that cannot be stored
   is named on its own delivery, which ends failed, and the rest are stored;
3. each delivery's typing and read events become ``customer.typing`` / ``customer.seen``, and its
   outcome is saved on it: processed (with counts), ignored or failed, with the reasons in ``detail``.

Before step 2 the batch takes the conversations it touches (``locks``, the drain's per-conversation
advisory locks); a delivery with a conversation another drain holds is left out, unchanged, for later.

A batch is first processed without savepoints (``careful=False``): a DM then costs a dozen statements in
the batch's one transaction. Anything failing in it raises ``NeedsCare``, and the drain rolls the batch
back and processes it again carefully, each step in a savepoint of its own, as described below.

Nothing a delivery holds can stop the others, nor the batches after it (a delivery left ``received`` would
head every later batch). Each step catches what one delivery or one event raises, of any kind, and names
it on that delivery; the body is read as strictly as the webhook read it (``webhooks.delivery_json``) and
every string in it made storable (``x.json_fields.storable_json``); every event is checked against its
columns before the batch writes (``ingest.event_problem``); and the outcomes are saved in a savepoint, so
one that cannot be saved is saved on its own with a plain reason instead of rolling the batch back.

What a delivery's outcome means (``WebhookDelivery.status``; the reasons are in ``detail``, one a line):

- ``processed``: every event was stored or was a duplicate; ``detail`` names what was ignored (families
  and kinds not handled here) and what was rejected as malformed and left out (with the path and why);
- ``ignored``: nothing in it concerns a connected account (unknown or disconnected account, no account);
- ``failed``: something in it was not stored: the body is not usable JSON, an event could not be stored
  ("Not stored: event <id>: <why>"), or processing stopped. The body is kept; the sweep tries it again
  (``deliveries.MAX_ATTEMPTS``) and ingest stores nothing twice, then it waits for an admin.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import OperationalError, connection, transaction
from django.db.models import F, Field
from django.utils import timezone

from inbox.dm_events import DmEvent, DmEventType
from inbox.models import Inbox
from inbox.services.customer_signals import customer_read_record, customer_typing_signal
from inbox.services.ingest import UnstorableEvent
from inbox.services.rows import hot_cursor, in_list, rows_columns, rows_instance
from twitter_channel.connection.services import account_access_revoked
from twitter_channel.inbound import webhook_checks as webhooks
from twitter_channel.inbound.ingesting import account_events_ingest
from twitter_channel.inbound.parsing.payloads import AppRevocation, ParsedDelivery, PayloadError, parse_webhook_payload
from twitter_channel.models import WebhookDelivery, XAccount
from twitter_channel.x.json_fields import storable_json

log = logging.getLogger(__name__)

# A delivery's ``detail`` is cut here: a body naming thousands of unknown keys must not become a huge row.
MAX_DETAIL_LENGTH = 10_000


class NeedsCare(Exception):
    """A batch processed without savepoints (``careful=False``) failed somewhere: its transaction may be
    aborted or hold half of a step, so the drain rolls it back and processes it again with ``careful=True``.
    The error is its ``__cause__``."""


@dataclass
class Processed:
    """What ``deliveries_process`` did: the X accounts heard from (newest ``received_at`` each), and the
    deliveries left ``received`` because another drain held one of their conversations (named)."""

    heard: dict[int, datetime]
    deferred: list[WebhookDelivery]
    deferred_locks: list[str]


@dataclass
class _Outcome:
    status: str = WebhookDelivery.Status.PROCESSED
    dm_events: int = 0
    created: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class _Work:
    """One delivery on its way through the three steps."""

    delivery: WebhookDelivery
    outcome: _Outcome
    account: XAccount | None = None
    parsed: ParsedDelivery | None = None
    events: list[DmEvent] = field(default_factory=list)
    not_stored: list[str] = field(default_factory=list)


def deliveries_process(
    deliveries: list[WebhookDelivery],
    *,
    careful: bool = True,
    locks: Callable[[set[str]], set[str]] | None = None,
) -> Processed:
    """Process locked deliveries (see the module docstring) and save each one's outcome on it.

    ``locks`` takes the conversations named (``<account id>:<X conversation id>``) and returns those this
    transaction now holds; the deliveries with a conversation not held are left out (``Processed.deferred``).
    Raises ``OperationalError`` (connection lost, deadlock), which must roll the whole run back, and, when
    not ``careful``, ``NeedsCare`` for any other failure.
    """
    accounts: dict[str, XAccount | None] = {}
    works = [_read_safely(delivery, accounts, careful) for delivery in deliveries]
    works, deferred, waits = _conversations_taken(works, locks)
    _ingest_per_account(works, careful)
    heard: dict[int, datetime] = {}
    for work in works:
        _signals_safely(work, careful)
        delivery = work.delivery
        if delivery.account_id is not None:
            heard[delivery.account_id] = max(delivery.received_at, heard.get(delivery.account_id, delivery.received_at))
    _outcomes_save(works, careful)
    return Processed(heard=heard, deferred=deferred, deferred_locks=waits)


def _conversations(work: _Work) -> set[str]:
    """The conversations a delivery writes to (for the drains' locks): its DMs', typing's and read receipts'."""
    if work.account is None or work.parsed is None:
        return set()
    ids = {event.x_conversation_id for event in work.events}
    ids.update(event.x_conversation_id for event in work.parsed.typing)
    ids.update(event.x_conversation_id for event in work.parsed.reads)
    return {f"{work.account.pk}:{x_id}" for x_id in ids}


def _conversations_taken(
    works: list[_Work], locks: Callable[[set[str]], set[str]] | None
) -> tuple[list[_Work], list[WebhookDelivery], list[str]]:
    if locks is None:
        return works, [], []
    wanted = {id(work): _conversations(work) for work in works}
    taken = locks(set().union(*wanted.values()))
    kept, deferred, waits = [], [], []
    for work in works:
        missing = wanted[id(work)] - taken
        if missing:
            deferred.append(work.delivery)
            waits.append(min(missing))
        else:
            kept.append(work)
    return kept, deferred, waits


@contextlib.contextmanager
def _step(careful: bool) -> Iterator[None]:
    """A step that writes: in a savepoint of its own when ``careful``; else any failure is ``NeedsCare``."""
    if careful:
        with transaction.atomic():
            yield
        return
    try:
        yield
    except OperationalError:
        raise
    except Exception as exc:
        raise NeedsCare(str(exc)) from exc


def _read_safely(delivery: WebhookDelivery, accounts: dict[str, XAccount | None], careful: bool = True) -> _Work:
    """``_read``, with whatever it raises turned into a failed outcome (its writes are in savepoints)."""
    try:
        return _read(delivery, accounts, careful)
    except (OperationalError, NeedsCare):
        raise
    except Exception as exc:
        if not careful:
            raise NeedsCare(str(exc)) from exc
        log.exception("Could not process webhook delivery %s", delivery.pk)
        return _Work(delivery, _Outcome(status=WebhookDelivery.Status.FAILED, notes=[_stopped(exc)]))


def _stopped(exc: Exception) -> str:
    return f"Processing stopped: {_error(exc)}"


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _read(delivery: WebhookDelivery, accounts: dict[str, XAccount | None], careful: bool = True) -> _Work:
    """Parse and route one delivery and apply its revokes; ``accounts`` caches the routing within a batch."""
    try:
        parsed = parse_webhook_payload(webhooks.delivery_json(delivery.body))
    except (webhooks.Refused, PayloadError) as exc:
        reason = exc.message if isinstance(exc, webhooks.Refused) else str(exc)
        outcome = _Outcome(status=WebhookDelivery.Status.FAILED, notes=[f"Not a delivery we can read: {reason}"])
        return _Work(delivery, outcome)

    delivery.for_user_id = parsed.for_user_id or ""
    work = _Work(delivery, _Outcome(dm_events=len(parsed.dm_events)), parsed=parsed)
    notes = work.outcome.notes
    if parsed.ignored:
        notes.append("Ignored (not handled here): " + ", ".join(parsed.ignored) + ".")
    if parsed.rejected:
        notes.append("Rejected as malformed and left out: " + "; ".join(parsed.rejected) + ".")
    for revocation in parsed.revocations:
        with _step(careful):
            notes.append(_revocation_apply(revocation))
    if parsed.for_user_id is None:
        if not parsed.revocations:
            _ignored(work, "The delivery names no subscribed account (no for_user_id).")
        return work
    if parsed.for_user_id not in accounts:
        with _step(careful):
            accounts[parsed.for_user_id] = _account_routed(parsed.for_user_id)
    account = accounts[parsed.for_user_id]
    if account is None:
        return _ignored(work, f"No X account with user id {parsed.for_user_id} is connected to Backchannel.")
    delivery.account = account
    if not account.is_connected:
        return _ignored(
            work,
            f"@{account.inbox.handle} is {account.get_status_display().lower()}: its deliveries are not "
            "processed until it is connected again.",
        )
    work.account = account
    own_id, handle = account.inbox.x_user_id, account.inbox.handle
    for event in parsed.dm_events:
        if _involves(event, own_id):
            work.events.append(event)
        else:
            work.not_stored.append(
                f"event {event.x_event_id}: conversation {event.x_conversation_id} is not @{handle}'s"
            )
    return work


def _account_routed(x_user_id: str) -> XAccount | None:
    """The X account whose inbox has ``x_user_id``, with its inbox. Raw SQL (``rows_instance``): the ORM's
    compiling of this join was a tenth of a one-DM drain's CPU."""
    sql = (
        f"SELECT {rows_columns(XAccount, 'a')}, {rows_columns(Inbox, 'i')} FROM {XAccount._meta.db_table} a "
        f"JOIN {Inbox._meta.db_table} i ON i.id = a.inbox_id WHERE i.x_user_id = %s ORDER BY a.id LIMIT 1"
    )
    with hot_cursor() as cursor:
        cursor.execute(sql, [x_user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(XAccount._meta.concrete_fields)
    account = rows_instance(XAccount, row[:width])
    account.inbox = rows_instance(Inbox, row[width:])
    return account


def _revocation_apply(revocation: AppRevocation) -> str:
    account = account_access_revoked(x_user_id=revocation.x_user_id, revoked_at=revocation.revoked_at)
    if account is not None:
        return f"{account.inbox} revoked Backchannel's access on X: the account now needs reconnection."
    return (
        f"X user {revocation.x_user_id} revoked an app's access at {revocation.revoked_at:%Y-%m-%d %H:%M:%S} UTC; "
        "no account changed (none with that user id is connected, or it was connected again since)."
    )


def _ignored(work: _Work, reason: str) -> _Work:
    work.outcome.status = WebhookDelivery.Status.IGNORED
    work.outcome.notes.insert(0, reason)
    return work


def _involves(event: DmEvent, own_id: str) -> bool:
    """A one-to-one event must be in one of the account's conversations (group ids do not say)."""
    return event.is_group or own_id in event.x_conversation_id.split("-")


def _ingest_per_account(works: list[_Work], careful: bool = True) -> None:
    by_account: dict[int, list[_Work]] = defaultdict(list)
    for work in works:
        if work.account is not None and work.events:
            by_account[work.account.pk].append(work)
    for group in by_account.values():
        owner = {id(event): work for work in group for event in work.events}

        def refused(event: DmEvent, exc: Exception, owner: dict[int, _Work] = owner) -> None:
            # One event that cannot be stored must not lose the others; its delivery ends failed so that it
            # is processed again (what was stored stays stored, once).
            log.error("Could not ingest X event %s of a webhook delivery: %r", event.x_event_id, exc)
            work = owner[id(event)]
            why = f"cannot be stored: {exc.problem}" if isinstance(exc, UnstorableEvent) else _error(exc)
            work.not_stored.append(f"event {event.x_event_id}: {why}")
            work.outcome.status = WebhookDelivery.Status.FAILED

        events = [event for work in group for event in work.events]
        account = group[0].account
        assert account is not None  # only works with an account were grouped
        if not careful and any(event.event_type != DmEventType.MESSAGE_CREATE for event in events):
            raise NeedsCare("joins and leaves are ingested one at a time, each in a savepoint")
        try:
            with _step(careful):
                results = account_events_ingest(account=account, events=events, on_error=refused, savepoints=careful)
        except (OperationalError, NeedsCare):
            raise
        except Exception as exc:
            log.exception("Could not ingest the DMs of %d webhook deliveries", len(group))
            for work in group:
                work.outcome.status = WebhookDelivery.Status.FAILED
                work.outcome.notes.append(_stopped(exc))
            continue
        for result in results:
            owner[id(result.event)].outcome.created += result.created


def _signals_safely(work: _Work, careful: bool = True) -> None:
    """The delivery's typing and read events, in a savepoint of their own when it has any."""
    if work.account is None or work.parsed is None or not (work.parsed.typing or work.parsed.reads):
        return
    try:
        with _step(careful):
            _signals(work.account, work.parsed, work.outcome)
    except (OperationalError, NeedsCare):
        raise
    except Exception as exc:
        log.exception("Could not process the typing and read events of webhook delivery %s", work.delivery.pk)
        work.outcome.status = WebhookDelivery.Status.FAILED
        work.outcome.notes.append(_stopped(exc))


def _outcomes_save(works: list[_Work], careful: bool = True) -> None:
    """Each delivery's outcome on its row: one UPDATE per distinct outcome (a busy batch has one or two).

    In a savepoint: if they cannot be saved together, each is saved on its own, and one that cannot be saved
    even then ends ``failed`` with a plain reason (``_outcome_unsaved``), so the batch still commits.
    """
    if not works:
        return
    now = timezone.now()
    alike: dict[tuple, list[_Work]] = defaultdict(list)
    for work in works:
        alike[_outcome_fields(work)].append(work)
        work.delivery.attempts += 1
        work.delivery.processed_at = now
    try:
        with _step(careful):
            for fields, group in alike.items():
                _outcome_update([work.delivery.pk for work in group], fields, now)
        return
    except (OperationalError, NeedsCare):
        raise
    except Exception:
        log.exception(
            "Could not save the outcomes of %d webhook deliveries together; saving them one by one", len(works)
        )
    for fields, group in alike.items():
        for work in group:
            try:
                with transaction.atomic():
                    _outcome_update([work.delivery.pk], fields, now)
            except OperationalError:
                raise
            except Exception as exc:
                log.exception("Could not save the outcome of webhook delivery %s", work.delivery.pk)
                _outcome_unsaved(work, exc, now)


def _outcome_fields(work: _Work) -> tuple[tuple[str, object], ...]:
    """What is saved of a delivery's outcome (also set on the delivery in memory), its text made storable."""
    outcome, delivery = work.outcome, work.delivery
    if work.not_stored:
        outcome.notes.append("Not stored: " + "; ".join(work.not_stored) + ".")
    detail = storable_json("\n".join(outcome.notes))
    if len(detail) > MAX_DETAIL_LENGTH:
        detail = detail[: MAX_DETAIL_LENGTH - 60] + f" [... {len(detail) - MAX_DETAIL_LENGTH + 60} characters more]"
    fields = (
        ("status", outcome.status),
        ("dm_events", outcome.dm_events),
        ("messages_created", outcome.created),
        ("detail", detail),
        ("for_user_id", delivery.for_user_id),
        ("account_id", delivery.account_id),
    )
    for name, value in fields:
        setattr(delivery, name, value)
    return fields


def _outcome_update(pks: list[int], fields: tuple[tuple[str, object], ...], now: datetime) -> None:
    """One UPDATE for the deliveries ``pks``. Raw SQL, values prepared by their fields: the ORM's compiling of
    this UPDATE was a tenth of a one-DM drain's CPU."""
    meta, qn = WebhookDelivery._meta, connection.ops.quote_name
    columns = [(_column(name), value) for name, value in (*fields, ("processed_at", now))]
    sets = ", ".join(f"{qn(str(field.column))} = %s" for field, _ in columns)
    params = [field.get_db_prep_save(value, connection) for field, value in columns]
    with hot_cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(meta.db_table)} SET {sets}, attempts = attempts + 1 WHERE id IN {in_list(pks)}",
            [*params, *pks],
        )


def _column(name: str) -> Field:
    field = WebhookDelivery._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def _outcome_unsaved(work: _Work, exc: Exception, now: datetime) -> None:
    """The last word on a delivery whose outcome could not be saved: ``failed``, with only what cannot fail.
    If even this fails, the database itself is in trouble: the error rolls the batch back."""
    delivery = work.delivery
    delivery.status = WebhookDelivery.Status.FAILED
    delivery.detail = f"Processing stopped: its outcome could not be saved ({type(exc).__name__})."
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=delivery.status, detail=delivery.detail, attempts=F("attempts") + 1, processed_at=now
        )


def _signals(account: XAccount, parsed: ParsedDelivery, outcome: _Outcome) -> None:
    inbox = account.inbox
    typing_skipped = sum(customer_typing_signal(inbox=inbox, event=event) is None for event in parsed.typing)
    reads_skipped = sum(customer_read_record(inbox=inbox, event=event) is None for event in parsed.reads)
    if typing_skipped:
        outcome.notes.append(
            f"{typing_skipped} of {len(parsed.typing)} typing event(s) were not a customer of @{inbox.handle} "
            "typing in one of its conversations."
        )
    if reads_skipped:
        outcome.notes.append(
            f"{reads_skipped} of {len(parsed.reads)} read receipt(s) were not a customer of @{inbox.handle} "
            "reading further in one of its conversations."
        )
