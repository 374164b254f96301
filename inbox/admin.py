"""The Django admin for the inbox's data.

Inboxes, contacts, conversations, messages and their activity are read-only here: they change in the app
(the inbox, Manage, Settings → X accounts), through services that write the activity rows and tell open
pages. Labels and canned responses are kept in the app (Settings → Canned responses, Labels); superusers
may also change them here, and every change goes through ``inbox.services.labels`` and
``inbox.services.canned``, whose checks the forms here run too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from accounts.admin import ReadOnlyAdmin, ReadOnlyInlineMixin
from accounts.models import User
from inbox.models import (
    CannedResponse,
    Contact,
    Conversation,
    ConversationEvent,
    Inbox,
    InboxMembership,
    Label,
    Message,
    MessageAttachment,
    Note,
    Participant,
)
from inbox.services.canned import (
    canned_response_check,
    canned_response_create,
    canned_response_delete,
    canned_response_update,
)
from inbox.services.labels import label_check, label_create, label_delete, label_update


class InboxMembershipInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = InboxMembership


@admin.register(Inbox)
class InboxAdmin(ReadOnlyAdmin):
    """Inboxes come with connected X accounts; their people, teams and auto-assignment are set under Manage."""

    list_display = ("handle", "display_name", "x_user_id", "auto_assign", "created_at")
    search_fields = ("handle", "display_name", "x_user_id")
    inlines = [InboxMembershipInline]


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("handle", "name", "x_user_id", "followers_count", "verified", "profile_refreshed_at")
    search_fields = ("handle", "name", "x_user_id")
    list_filter = ("verified", "protected")


class ParticipantInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Participant


class NoteInline(ReadOnlyInlineMixin, admin.StackedInline):
    model = Note


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = (
        "x_conversation_id",
        "inbox",
        "contact",
        "status",
        "priority",
        "assignee",
        "team",
        "last_message_at",
    )
    list_filter = ("status", "kind", "priority", "inbox", "team")
    search_fields = ("x_conversation_id", "contact__handle", "contact__name")
    date_hierarchy = "last_message_at"
    inlines = [ParticipantInline, NoteInline]


class MessageAttachmentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = MessageAttachment


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("x_event_id", "conversation", "event_type", "direction", "delivery_state", "occurred_at")
    list_filter = ("event_type", "direction", "delivery_state")
    search_fields = ("x_event_id", "text")
    inlines = [MessageAttachmentInline]


@admin.register(ConversationEvent)
class ConversationEventAdmin(ReadOnlyAdmin):
    """The activity log: written by the services that make each change, never edited."""

    list_display = ("conversation", "kind", "actor", "created_at")
    list_filter = ("kind",)


def _saved_as(obj: Model, saved: Model) -> None:
    """Point the admin's unsaved ``obj`` at the row a service created (its log entry and redirect use it)."""
    obj.pk = saved.pk
    obj._state.adding, obj._state.db = False, saved._state.db


def _service_errors(form: ModelForm, check: Callable[[], None]) -> None:
    """Put what a service's check refuses on the admin's form, as the app's pages do."""
    try:
        check()
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)


class LabelAdminForm(ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        fields = {name: data[name] for name in ("name", "color") if name in data}
        if len(fields) == 2:
            _service_errors(self, lambda: label_check(Label(pk=self.instance.pk, **fields)))
        return data


class CannedResponseAdminForm(ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if "body" in data:
            _service_errors(self, lambda: canned_response_check(CannedResponse(body=data["body"])))
        return data


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    form = LabelAdminForm
    list_display = ("name", "color", "description")
    search_fields = ("name",)

    def save_model(self, request: HttpRequest, obj: Label, form: ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ("name", "color", "description")}
        if change:
            label_update(label=obj, **fields)
        else:
            _saved_as(obj, label_create(**fields))

    def delete_model(self, request: HttpRequest, obj: Label) -> None:
        label_delete(label=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Label]) -> None:
        for label in queryset:
            label_delete(label=label)


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    form = CannedResponseAdminForm
    list_display = ("shortcut", "title", "inbox", "created_by")
    search_fields = ("shortcut", "title", "body")
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request: HttpRequest, obj: CannedResponse, form: ModelForm, change: bool) -> None:
        fields: dict[str, Any] = {name: form.cleaned_data[name] for name in ("shortcut", "title", "body", "inbox")}
        if change:
            canned_response_update(canned_response=obj, **fields)
        else:
            author = request.user if isinstance(request.user, User) else None
            _saved_as(obj, canned_response_create(**fields, created_by=author))

    def delete_model(self, request: HttpRequest, obj: CannedResponse) -> None:
        canned_response_delete(canned_response=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CannedResponse]) -> None:
        for canned in queryset:
            canned_response_delete(canned_response=canned)
