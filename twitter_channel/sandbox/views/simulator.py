"""The customer simulator's pages (not part of X): act as a sandbox user and DM business accounts.

The acting user is in the URL (``/simulator/<username>/…``); the sandbox has no sessions and no CSRF.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt

from twitter_channel.sandbox import problems, simulation
from twitter_channel.sandbox.models import Conversation, XUser
from twitter_channel.sandbox.simulation import EventView, NotFound

Failure = (ValueError, problems.Problem)


def page(*methods: str) -> Callable:
    """Allow ``methods``, skip CSRF, and answer ``NotFound`` with the explaining 404 page."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = HttpResponse(f"Use {' or '.join(methods)}.", status=405, content_type="text/plain")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, **kwargs)
            except NotFound as exc:
                return render(request, "simulator/not_found.html", {"message": str(exc)}, status=404)

        return wrapper

    return decorate


def _failure(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, problems.Problem):
        return simulation.problem_message(exc), exc.status
    return str(exc), 400


def _see_other(url: str) -> HttpResponse:
    response = HttpResponse(status=303)
    response["Location"] = url
    return response


def _thread_url(user: XUser, conversation: Conversation) -> str:
    return reverse("simulator-thread", args=[user.username, conversation.conversation_id])


@page("GET", "POST")
def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"form": {}}
    status = 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("username", "name", "avatar_url", "is_business")}
        try:
            user = simulation.create_user(
                username=form["username"],
                name=form["name"],
                avatar_url=form["avatar_url"],
                is_business=bool(form["is_business"]),
            )
            return _see_other(reverse("simulator-user", args=[user.username]))
        except Failure as exc:
            context["error"], status = _failure(exc)
            context["form"] = form
    context["users"] = simulation.users_for_home()
    return render(request, "simulator/home.html", context, status=status)


def _user_page(request: HttpRequest, user: XUser, *, error: str = "", status: int = 200, **form: Any) -> HttpResponse:
    people = simulation.others(user)
    context = {
        "me": user,
        "conversations": simulation.conversations(user),
        "joinable": simulation.joinable_groups(user),
        "businesses": [u for u in people if u.is_business],
        "people": people,
        "error": error,
        "form": form,
    }
    return render(request, "simulator/user.html", context, status=status)


@page("GET")
def user_home(request: HttpRequest, username: str) -> HttpResponse:
    return _user_page(request, simulation.acting_user(username))


@page("POST")
def start_dm(request: HttpRequest, username: str) -> HttpResponse:
    user = simulation.acting_user(username)
    try:
        conversation = simulation.start_dm(user, request.POST.get("to", ""), request.POST.get("text", ""))
    except Failure as exc:
        error, status = _failure(exc)
        return _user_page(request, user, error=error, status=status, dm_text=request.POST.get("text", ""))
    return _see_other(_thread_url(user, conversation))


@page("POST")
def create_group(request: HttpRequest, username: str) -> HttpResponse:
    user = simulation.acting_user(username)
    chosen, text = request.POST.getlist("participants"), request.POST.get("text", "")
    try:
        conversation = simulation.create_group(user, chosen, text)
    except Failure as exc:
        error, status = _failure(exc)
        return _user_page(request, user, error=error, status=status, group_text=text, group_chosen=chosen)
    return _see_other(_thread_url(user, conversation))


@page("POST")
def join_group(request: HttpRequest, username: str, conversation_id: str) -> HttpResponse:
    user = simulation.acting_user(username)
    try:
        conversation = simulation.join(user, conversation_id)
    except Failure as exc:
        error, status = _failure(exc)
        return _user_page(request, user, error=error, status=status)
    return _see_other(_thread_url(user, conversation))


@page("POST")
def leave_group(request: HttpRequest, username: str, conversation_id: str) -> HttpResponse:
    user = simulation.acting_user(username)
    try:
        simulation.leave(user, conversation_id)
    except Failure as exc:
        error, status = _failure(exc)
        return _user_page(request, user, error=error, status=status)
    return _see_other(reverse("simulator-user", args=[user.username]))


def _thread_page(
    request: HttpRequest, user: XUser, conversation_id: str, *, error: str = "", text: str = "", status: int = 200
) -> HttpResponse:
    conversation, active = simulation.conversation_for(user, conversation_id)
    events = simulation.events_after(user, conversation)
    context = {
        "me": user,
        "conversation": conversation,
        "title": simulation.title(conversation, user),
        "active": active,
        "is_group": conversation.kind == Conversation.Kind.GROUP,
        "events": events,
        "last_seq": events[-1].event.seq if events else 0,
        "quick_reply": simulation.pending_quick_reply(user, conversation) if active else None,
        "error": error,
        "text": text,
    }
    return render(request, "simulator/thread.html", context, status=status)


@page("GET")
def thread(request: HttpRequest, username: str, conversation_id: str) -> HttpResponse:
    return _thread_page(request, simulation.acting_user(username), conversation_id)


@page("POST")
def send(request: HttpRequest, username: str, conversation_id: str) -> HttpResponse:
    user = simulation.acting_user(username)
    conversation, _ = simulation.conversation_for(user, conversation_id)
    text = request.POST.get("text", "")
    try:
        simulation.send(user, conversation, text, request.FILES.get("attachment"))
    except Failure as exc:
        error, status = _failure(exc)
        return _thread_page(request, user, conversation_id, error=error, text=text, status=status)
    return _see_other(_thread_url(user, conversation))


@page("POST")
def quick_reply(request: HttpRequest, username: str, conversation_id: str) -> HttpResponse:
    user = simulation.acting_user(username)
    conversation, _ = simulation.conversation_for(user, conversation_id)
    try:
        simulation.answer_quick_reply(user, conversation, request.POST.get("event_id", ""), request.POST.get("option"))
    except Failure as exc:
        error, status = _failure(exc)
        return _thread_page(request, user, conversation_id, error=error, status=status)
    return _see_other(_thread_url(user, conversation))


def _event_json(request: HttpRequest, user: XUser, view: EventView) -> dict[str, Any]:
    event = view.event
    return {
        "id": event.event_id,
        "seq": event.seq,
        "event_type": event.event_type,
        "sender_username": view.sender.username if view.sender else None,
        "text": event.text,
        "media_id": event.media.media_id if event.media else None,
        "quick_reply": event.quick_reply,
        "quick_reply_response": event.quick_reply_response,
        "html": render_to_string("simulator/_event.html", {"e": view, "me": user}, request),
    }


@page("GET")
def events_json(request: HttpRequest, username: str, conversation_id: str) -> HttpResponse:
    """New events of the thread for the page's poll: ``?after=<seq>`` (0 or absent: all)."""
    user = simulation.acting_user(username)
    conversation, active = simulation.conversation_for(user, conversation_id)
    after = request.GET.get("after", "0")
    if not after.isdigit():
        return JsonResponse({"error": "`after` must be an event seq (a number)."}, status=400)
    views = simulation.events_after(user, conversation, int(after))
    pending = simulation.pending_quick_reply(user, conversation) if active else None
    context = {"quick_reply": pending, "me": user, "conversation": conversation}
    return JsonResponse(
        {
            "events": [_event_json(request, user, v) for v in views],
            "last_seq": views[-1].event.seq if views else int(after),
            "quick_reply_key": pending.event.event_id if pending else "",
            "quick_replies_html": render_to_string("simulator/_quick_replies.html", context, request),
        },
        json_dumps_params={"ensure_ascii": False},
    )


@page("GET")
def media(request: HttpRequest, username: str, media_id: str) -> HttpResponse:
    """Media bytes for the thread page: only for someone in a conversation that carries it."""
    item = simulation.readable_media(simulation.acting_user(username), media_id)
    response = HttpResponse(bytes(item.data), content_type=item.media_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@page("GET", "POST")
def compose(request: HttpRequest) -> HttpResponse:
    """X's "Send a private message" deep link: ``/messages/compose?recipient_id=&text=``."""
    params = request.POST if request.method == "POST" else request.GET
    to = simulation.recipient(params.get("recipient_id", ""))
    form = {
        "as": params.get("as", ""),
        "text": params.get("text", ""),
        "welcome_message_id": params.get("welcome_message_id", ""),
    }
    status, error = 200, ""
    if request.method == "POST":
        try:
            sender, event = simulation.compose_send(
                sender=form["as"], to=to, text=form["text"], welcome_message_id=form["welcome_message_id"]
            )
            return _see_other(_thread_url(sender, event.conversation))
        except Failure as exc:
            error, status = _failure(exc)
    context = {"to": to, "form": form, "error": error, "senders": simulation.others(to)}
    return render(request, "simulator/compose.html", context, status=status)


urlpatterns = [
    path("", home, name="simulator-home"),
    path("messages/compose", compose, name="simulator-compose"),
    path("simulator/<str:username>/", user_home, name="simulator-user"),
    path("simulator/<str:username>/dm", start_dm, name="simulator-start-dm"),
    path("simulator/<str:username>/groups", create_group, name="simulator-create-group"),
    path("simulator/<str:username>/groups/<str:conversation_id>/join", join_group, name="simulator-join"),
    path("simulator/<str:username>/groups/<str:conversation_id>/leave", leave_group, name="simulator-leave"),
    path("simulator/<str:username>/media/<str:media_id>", media, name="simulator-media"),
    path("simulator/<str:username>/c/<str:conversation_id>/", thread, name="simulator-thread"),
    path("simulator/<str:username>/c/<str:conversation_id>/send", send, name="simulator-send"),
    path("simulator/<str:username>/c/<str:conversation_id>/quick-reply", quick_reply, name="simulator-quick-reply"),
    path("simulator/<str:username>/c/<str:conversation_id>/events.json", events_json, name="simulator-events"),
]
