"""Settings (admins, and leads for their inboxes): canned responses and labels.

Each view checks the form's shape and calls one service of ``inbox.services.canned`` or
``inbox.services.labels``; what the service refuses (a taken shortcut or name, a bad colour, an unknown
placeholder) comes back on the form with status 400. A change redirects with a flash message.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from inbox.forms import CannedResponseForm, ConfirmForm, LabelForm
from inbox.models import CannedResponse, Label
from inbox.permissions import may_manage_labels, may_open_settings
from inbox.selectors import canned as canned_selectors
from inbox.services import canned as canned_services
from inbox.services import labels as label_services
from inbox.views.common import form_submit, plain_error


def _settings_user(request: AuthenticatedHttpRequest, *, labels: bool = False) -> None:
    if not may_open_settings(request.user):
        raise PermissionDenied("Settings are for admins and team leads.")
    if labels and not may_manage_labels(request.user):
        raise PermissionDenied("Labels are shared by every inbox: only admins change them.")


@require_GET
@login_required
def settings_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    _settings_user(request)
    return redirect("settings:canned")


# Canned responses -------------------------------------------------------------------------------


def _canned_form(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> CannedResponseForm:
    inboxes = canned_selectors.canned_inboxes_manageable(request.user).order_by("handle")
    return CannedResponseForm(*args, user=request.user, inboxes=inboxes, **kwargs)


def _canned(request: AuthenticatedHttpRequest, canned_id: int) -> CannedResponse:
    canned = canned_selectors.canned_response_for_settings(request.user, canned_id)
    if canned is None:
        raise Http404("No such canned response in your inboxes.")
    return canned


def _canned_list_page(request: AuthenticatedHttpRequest, form: forms.Form) -> HttpResponse:
    rows = [
        (canned, canned_selectors.canned_may_manage(request.user, canned.inbox))
        for canned in canned_selectors.canned_responses_for_settings(request.user)
    ]
    context = {"section": "canned", "rows": rows, "form": form, "preview": _preview_of(request, form)}
    return render(request, "inbox/settings/canned_list.html", context)


def _preview_of(request: AuthenticatedHttpRequest, form: forms.Form) -> canned_selectors.Preview:
    body = form["body"].value() or ""
    return canned_selectors.canned_preview(str(body), agent=request.user)


@require_http_methods(["GET", "POST"])
@login_required
def canned_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every canned response ``request.user`` may see here; a POST adds one."""
    _settings_user(request)
    if request.method == "GET":
        return _canned_list_page(request, _canned_form(request))

    def apply(data: dict[str, Any]) -> CannedResponse:
        return canned_services.canned_response_create(
            shortcut=data["shortcut"],
            title=data["title"],
            body=data["body"],
            inbox=data["inbox"],
            created_by=request.user,
            actor=request.user,
        )

    return form_submit(
        request,
        _canned_form(request, request.POST),
        apply,
        done=lambda canned: f"Added /{canned.shortcut}: agents get it when they type /.",
        to=reverse("settings:canned"),
        failed=lambda form: _canned_list_page(request, form),
    )


def _canned_page(
    request: AuthenticatedHttpRequest, canned: CannedResponse, form: forms.Form | None = None, **extra: Any
) -> HttpResponse:
    form = form or _canned_form(
        request,
        initial={"shortcut": canned.shortcut, "title": canned.title, "body": canned.body, "inbox": canned.inbox_id},
    )
    context = {
        "section": "canned",
        "canned": canned,
        "form": form,
        "preview": _preview_of(request, form),
        "delete_form": extra.get("delete_form") or ConfirmForm(),
    }
    return render(request, "inbox/settings/canned_edit.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def canned_detail(request: AuthenticatedHttpRequest, canned_id: int) -> HttpResponse:
    """A canned response's page; a POST saves it."""
    _settings_user(request)
    canned = _canned(request, canned_id)
    if request.method == "GET":
        return _canned_page(request, canned)

    def apply(data: dict[str, Any]) -> CannedResponse:
        return canned_services.canned_response_update(
            canned_response=canned,
            shortcut=data["shortcut"],
            title=data["title"],
            body=data["body"],
            inbox=data["inbox"],
            actor=request.user,
        )

    return form_submit(
        request,
        _canned_form(request, request.POST),
        apply,
        done=lambda canned: f"Saved /{canned.shortcut}.",
        to=reverse("settings:canned"),
        failed=lambda form: _canned_page(request, canned, form),
    )


@require_POST
@login_required
def canned_delete(request: AuthenticatedHttpRequest, canned_id: int) -> HttpResponse:
    _settings_user(request)
    canned = _canned(request, canned_id)
    canned_services.canned_response_delete(canned_response=canned, actor=request.user)
    messages.success(request, f"Deleted /{canned.shortcut}: agents are no longer offered it.")
    return redirect("settings:canned")


@require_POST
@login_required
def canned_preview(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The live preview as the text is typed: ``body`` (and ``inbox``, an id) → the preview fragment."""
    _settings_user(request)
    body = request.POST.get("body", "")
    if len(body) > 20_000:
        return plain_error("The text is too long to preview.")
    raw_inbox = request.POST.get("inbox", "")
    inbox = None
    if raw_inbox.isdigit() and len(raw_inbox) < 10:
        inbox = canned_selectors.canned_inboxes_manageable(request.user).filter(pk=int(raw_inbox)).first()
    preview = canned_selectors.canned_preview(body, agent=request.user, inbox=inbox)
    return render(request, "inbox/settings/_canned_preview.html", {"preview": preview})


# Labels -----------------------------------------------------------------------------------------------


def _label(label_id: int) -> Label:
    label = Label.objects.filter(pk=label_id).first()
    if label is None:
        raise Http404("No such label.")
    return label


def _labels_page(request: AuthenticatedHttpRequest, form: forms.Form) -> HttpResponse:
    context = {"section": "labels", "labels": Label.objects.order_by("name"), "form": form}
    return render(request, "inbox/settings/labels.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def label_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every label; a POST adds one."""
    _settings_user(request, labels=True)
    if request.method == "GET":
        return _labels_page(request, LabelForm())
    return form_submit(
        request,
        LabelForm(request.POST),
        lambda data: label_services.label_create(**data, actor=request.user),
        done=lambda label: f"Added the label {label.name}.",
        to=reverse("settings:labels"),
        failed=lambda form: _labels_page(request, form),
    )


def _label_page(request: AuthenticatedHttpRequest, label: Label, form: forms.Form | None = None) -> HttpResponse:
    form = form or LabelForm(initial={"name": label.name, "color": label.color, "description": label.description})
    context = {
        "section": "labels",
        "label": label,
        "form": form,
        "conversations": label.conversations.count(),
        "delete_form": ConfirmForm(),
    }
    return render(request, "inbox/settings/label_edit.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def label_detail(request: AuthenticatedHttpRequest, label_id: int) -> HttpResponse:
    """A label's page; a POST saves it."""
    _settings_user(request, labels=True)
    label = _label(label_id)
    if request.method == "GET":
        return _label_page(request, label)
    return form_submit(
        request,
        LabelForm(request.POST),
        lambda data: label_services.label_update(label=label, **data, actor=request.user),
        done=lambda label: f"Saved the label {label.name}.",
        to=reverse("settings:labels"),
        failed=lambda form: _label_page(request, label, form),
    )


@require_POST
@login_required
def label_delete(request: AuthenticatedHttpRequest, label_id: int) -> HttpResponse:
    _settings_user(request, labels=True)
    label = _label(label_id)
    label_services.label_delete(label=label, actor=request.user)
    messages.success(request, f"Deleted the label {label.name}: conversations that had it no longer do.")
    return redirect("settings:labels")
