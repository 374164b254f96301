"""The Django admin for agents and teams, and the read-only base the other apps' admins use.

Agents and teams change on the app's Manage pages (``/manage/``, ``inbox.services.staffing``), which
check who may, keep an admin in charge, hand conversations back to the queue and tell open pages. So
here they are read-only, except what only concerns the Django admin itself: who may log into it and with
which groups and permissions, and an agent's password; both are written by ``accounts.services``.
"""

from __future__ import annotations

from typing import Any

from allauth.account.admin import EmailAddressAdmin
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm
from django.db.models import Model
from django.forms import Form, ModelForm
from django.http import HttpRequest

from accounts.models import Team, TeamMembership, User
from accounts.services import user_django_admin_access_set, user_set_password


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows a model's rows and never writes them: no add, change or delete (a POST gets 403). For models
    whose changes must go through services, with their activity rows and live events."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return _every_field(self.model)


class ReadOnlyInlineMixin(InlineModelAdmin):
    """For an inline of a ``ReadOnlyAdmin`` (before ``TabularInline`` or ``StackedInline`` in its bases):
    shown, never added to, changed or deleted."""

    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return _every_field(self.model)


def _every_field(model: type[Model]) -> list[str]:
    """Every field of ``model`` as read-only, so its page builds no form fields at all, only the values."""
    opts = model._meta
    return [field.name for field in (*opts.fields, *opts.many_to_many) if not field.auto_created]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class PasswordSetForm(AdminPasswordChangeForm):
    """Django's form, storing through ``user_set_password``: a new password, or none (password-based
    authentication disabled), after which the Manage pages show the agent as invited."""

    def set_password_and_save(self, user: User, commit: bool = True, **kwargs: Any) -> User:
        usable = self.cleaned_data["set_usable_password"]
        user_set_password(user=user, password=self.cleaned_data["password1"] if usable else None)
        return user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Agents are invited, changed and deactivated under Manage → Agents; ``createsuperuser`` makes the
    first admin. Here: access to this admin site (staff, groups, permissions) and a new password."""

    form = UserEditForm
    change_password_form = PasswordSetForm
    ordering = ("email",)
    list_display = ("email", "name", "role", "presence", "capacity", "is_active")
    list_filter = ("role", "presence", "is_active", "is_staff")
    search_fields = ("email", "name")
    readonly_fields = (
        "email", "name", "role", "presence", "capacity", "is_active", "is_superuser", "last_login", "date_joined",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile (Manage → Agents)", {"fields": ("name", "role", "presence", "capacity", "is_active")}),
        ("Access to this admin site", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invited under Manage → Agents

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivated under Manage → Agents, which hands their conversations back

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:
        user_django_admin_access_set(
            user=obj,
            is_staff=form.cleaned_data["is_staff"],
            groups=form.cleaned_data["groups"],
            permissions=form.cleaned_data["user_permissions"],
        )

    def save_related(self, request: HttpRequest, form: Form, formsets: Any, change: bool) -> None:
        """Nothing: ``save_model``'s service set the groups and permissions (and a user has no inlines)."""


class TeamMembershipInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = TeamMembership


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    """Teams are made, renamed, staffed and deleted under Manage → Teams."""

    list_display = ("name", "created_at")
    search_fields = ("name",)
    inlines = [TeamMembershipInline]


if admin.site.is_registered(EmailAddress):
    admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class ReadOnlyEmailAddressAdmin(ReadOnlyAdmin, EmailAddressAdmin):
    """allauth's addresses, read-only: each agent's is made verified and primary with the agent
    (``user_create``) and is the one they log in with."""

    actions = []
