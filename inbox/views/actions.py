"""What an agent does to an open conversation: reply, undo or retry a reply, note, assign, set status.

Each view parses the form and calls one service. The page's script posts with ``X-Fragment: 1`` and
gets the changed fragment back (or a plain-text reason with a 4xx); a plain form post is redirected
back to the conversation with a flash message, so everything also works without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import Team, User
from inbox import permissions
from inbox.models import Message
from inbox.selectors import thread as thread_selectors
from inbox.services.assignment import AssignmentConflict, AssignmentError, conversation_assign, conversation_team_set
from inbox.services.conversations import ConversationStatusError, conversation_status_set
from inbox.services.notes import NoteError, note_create
from inbox.services.reads import conversation_mark_read
from inbox.services.replies import ReplyError, ReplyNotAllowed, reply_create, reply_retry
from inbox.services.reply_undo import reply_cancel
from inbox.services.triage import TriageError, conversation_labels_set, conversation_priority_set
from inbox.views.common import conversation_url, plain_error, refused, visible_conversation, wants_fragment


def _done(request: HttpRequest, conversation_id: int, template: str, context: dict, flash: str) -> HttpResponse:
    if wants_fragment(request):
        return render(request, template, context)
    messages.success(request, flash)
    return redirect(conversation_url(conversation_id, request))


@require_POST
@login_required
def reply(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    """A reply. The page sends ``seen_up_to``, the newest message it had when the agent opened the
    conversation: if the customer or another agent wrote since, the reply is held (409) until the agent
    sends it anyway (``send_anyway=1``)."""
    conversation = visible_conversation(request, conversation_id)
    if not permissions.may_write(request.user):
        return refused(request, conversation_id, permissions.READ_ONLY, 403)
    token = request.POST.get("client_token", "").strip()
    if not token or len(token) > 64:
        return refused(request, conversation_id, "The reply form is missing its one-time token; reload the page.")
    seen = request.POST.get("seen_up_to", "")
    if seen.isdigit() and request.POST.get("send_anyway") != "1":
        held = thread_selectors.collision_since(conversation, after_message_id=int(seen), user=request.user)
        if held:
            return refused(request, conversation_id, held, 409)
    try:
        message = reply_create(
            conversation_id=conversation.pk,
            author=request.user,
            text=request.POST.get("text", ""),
            client_token=token,
            attachment=request.FILES.get("attachment"),
        )
    except ReplyError as exc:
        return refused(request, conversation_id, str(exc))
    entry = thread_selectors.message_item(conversation, message.pk)
    return _done(request, conversation_id, "inbox/_item.html", {"entry": entry}, "Reply queued.")


@require_POST
@login_required
def retry(request: AuthenticatedHttpRequest, conversation_id: int, message_id: int) -> HttpResponse:
    conversation = visible_conversation(request, conversation_id)
    if not permissions.may_write(request.user):
        return refused(request, conversation_id, permissions.READ_ONLY, 403)
    if not conversation.messages.filter(pk=message_id, direction=Message.Direction.OUTBOUND).exists():
        return plain_error("No such reply in this conversation.", 404)
    text = request.POST.get("text")
    try:
        reply_retry(message_id=message_id, actor=request.user, text=text if text is not None else None)
    except ReplyError as exc:
        return refused(request, conversation_id, str(exc))
    entry = thread_selectors.message_item(conversation, message_id)
    return _done(request, conversation_id, "inbox/_item.html", {"entry": entry}, "Sending again.")


@require_POST
@login_required
def undo(request: AuthenticatedHttpRequest, conversation_id: int, message_id: int) -> HttpResponse:
    """Take back a reply within its undo window: 204 for the page's scripts (the message is gone; the
    ``message.deleted`` event tells every other browser), else back to the conversation with a flash."""
    conversation = visible_conversation(request, conversation_id)
    if not permissions.may_write(request.user):
        return refused(request, conversation_id, permissions.READ_ONLY, 403)
    if not conversation.messages.filter(pk=message_id, direction=Message.Direction.OUTBOUND).exists():
        return plain_error("No such reply in this conversation.", 404)
    try:
        reply_cancel(message_id=message_id, actor=request.user)
    except Message.DoesNotExist:  # undone meanwhile, in another tab
        return plain_error("No such reply in this conversation.", 404)
    except ReplyNotAllowed as exc:
        return refused(request, conversation_id, str(exc), 403)
    except ReplyError as exc:
        return refused(request, conversation_id, str(exc))
    if wants_fragment(request):
        return HttpResponse(status=204)
    messages.success(request, "Reply undone: it was not sent.")
    return redirect(conversation_url(conversation_id, request))


@require_POST
@login_required
def note(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    conversation = visible_conversation(request, conversation_id)
    if not permissions.may_write(request.user):
        return refused(request, conversation_id, permissions.READ_ONLY, 403)
    try:
        created = note_create(conversation_id=conversation.pk, author=request.user, body=request.POST.get("body", ""))
    except NoteError as exc:
        return refused(request, conversation_id, str(exc))
    entry = thread_selectors.note_item(conversation, created.pk)
    return _done(request, conversation_id, "inbox/_item.html", {"entry": entry}, "Note added.")


@require_POST
@login_required
def mark_read(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    conversation = visible_conversation(request, conversation_id)
    conversation_mark_read(conversation_id=conversation.pk, user=request.user)
    return HttpResponse(status=204)


def _assignee(request: AuthenticatedHttpRequest, value: str) -> User | None:
    if value == "me":
        return request.user
    if value in ("", "none"):
        return None
    if not value.isdigit():
        raise AssignmentError(f"Not an agent: {value!r}.")
    assignee = User.objects.filter(pk=int(value), is_active=True).first()
    if assignee is None:
        raise AssignmentError("That agent does not exist or was deactivated.")
    return assignee


@require_POST
@login_required
def assign(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    """``assignee``: ``me``, ``none`` or an agent's id; ``expected``: who the agent saw assigned ("" = nobody)."""
    conversation = visible_conversation(request, conversation_id)
    if not permissions.may_write(request.user):
        return refused(request, conversation_id, permissions.READ_ONLY, 403)
    expected: dict = {}
    if "expected" in request.POST:
        raw = request.POST["expected"]
        if raw and not raw.isdigit():
            return refused(request, conversation_id, f"'expected' must be an agent id or empty, not {raw!r}.")
        expected["expected_assignee_id"] = int(raw) if raw else None
    try:
        assignee = _assignee(request, request.POST.get("assignee", ""))
        conversation = conversation_assign(
            conversation_id=conversation.pk, assignee=assignee, actor=request.user, **expected
        )
    except AssignmentConflict as exc:
        return refused(request, conversation_id, str(exc), 409)
    except AssignmentError as exc:
        return refused(request, conversation_id, str(exc), 403)
    conversation = visible_conversation(request, conversation_id)
    flash = f"Assigned to {assignee.display_name}." if assignee else "Unassigned."
    return _done(request, conversation_id, "inbox/_thread_header.html", {"conversation": conversation}, flash)


@require_POST
@login_required
def set_status(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    """``status``; for ``snoozed`` an optional ``snoozed_until`` (ISO time; empty: until the customer writes)."""
    conversation = visible_conversation(request, conversation_id)
    if not permissions.may_write(request.user):
        return refused(request, conversation_id, permissions.READ_ONLY, 403)
    until = None
    raw_until = request.POST.get("snoozed_until", "").strip()
    if raw_until:
        until = parse_datetime(raw_until)
        if until is None:
            return refused(request, conversation_id, f"Not a date and time: {raw_until!r}.")
        if timezone.is_naive(until):
            until = timezone.make_aware(until)
    try:
        conversation_status_set(
            conversation_id=conversation.pk, status=request.POST.get("status", ""), actor=request.user,
            snoozed_until=until,
        )  # fmt: skip
    except ConversationStatusError as exc:
        return refused(request, conversation_id, str(exc))
    conversation = visible_conversation(request, conversation_id)
    flash = f"Marked {conversation.get_status_display().lower()}."
    return _done(request, conversation_id, "inbox/_thread_header.html", {"conversation": conversation}, flash)


@require_POST
@login_required
def set_priority(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    conversation = visible_conversation(request, conversation_id)
    if not permissions.may_write(request.user):
        return refused(request, conversation_id, permissions.READ_ONLY, 403)
    raw = request.POST.get("priority", "")
    try:
        if not raw.isdigit():
            raise TriageError(f"'priority' must be a number from 0 (none) to 4 (urgent), not {raw!r}.")
        conversation_priority_set(conversation_id=conversation.pk, priority=int(raw), actor=request.user)
    except TriageError as exc:
        return refused(request, conversation_id, str(exc))
    conversation = visible_conversation(request, conversation_id)
    flash = f"Priority: {conversation.get_priority_display()}."
    return _done(request, conversation_id, "inbox/_thread_header.html", {"conversation": conversation}, flash)


@require_POST
@login_required
def set_labels(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    """``label``: the ids of every label the conversation should have (none: no labels)."""
    conversation = visible_conversation(request, conversation_id)
    if not permissions.may_write(request.user):
        return refused(request, conversation_id, permissions.READ_ONLY, 403)
    raw = request.POST.getlist("label")
    try:
        if not all(value.isdigit() for value in raw):
            raise TriageError(f"Labels are given by id; got {', '.join(repr(v) for v in raw)}.")
        conversation_labels_set(conversation_id=conversation.pk, label_ids=[int(v) for v in raw], actor=request.user)
    except TriageError as exc:
        return refused(request, conversation_id, str(exc))
    conversation = visible_conversation(request, conversation_id)
    return _done(request, conversation_id, "inbox/_thread_header.html", {"conversation": conversation}, "Labels saved.")


@require_POST
@login_required
def set_team(request: AuthenticatedHttpRequest, conversation_id: int) -> HttpResponse:
    """``team``: a team's id, or ``none`` to take the conversation out of its team."""
    conversation = visible_conversation(request, conversation_id)
    raw = request.POST.get("team", "")
    try:
        if raw in ("", "none"):
            team = None
        elif not raw.isdigit() or (team := Team.objects.filter(pk=int(raw)).first()) is None:
            return refused(request, conversation_id, f"No such team: {raw!r}.")
        conversation_team_set(conversation_id=conversation.pk, team=team, actor=request.user)
    except AssignmentError as exc:
        return refused(request, conversation_id, str(exc), 403)
    conversation = visible_conversation(request, conversation_id)
    flash = f"Moved to team {conversation.team.name}." if conversation.team else "No team."
    return _done(request, conversation_id, "inbox/_thread_header.html", {"conversation": conversation}, flash)
