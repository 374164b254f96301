"""The forms of the ``/manage/`` pages. They check the input's shape; ``inbox.services.staffing`` decides."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.models import Team, User
from inbox.models import ConversationEvent, Inbox
from inbox.services.staffing import MAX_CAPACITY

ROLE_HELP = (
    "Admin: everything, including these pages and X accounts. Team lead: works their inboxes and assigns "
    "conversations to anyone there. Agent: works their inboxes and takes conversations. "
    "Social manager: reads conversations of their inboxes, changes nothing."
)


class AgentChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        label = f"{obj.display_name} ({obj.email})"
        return label if obj.is_active else f"{label}, deactivated"


class InboxChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Inbox) -> str:
        return f"@{obj.handle} ({obj.display_name})" if obj.display_name else f"@{obj.handle}"


def _teams_field(help_text: str = "") -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        Team.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Teams",
        help_text=help_text,
    )


def _inboxes_field(help_text: str = "") -> InboxChoiceField:
    return InboxChoiceField(
        Inbox.objects.order_by("handle"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Inboxes",
        help_text=help_text,
    )


def _members_field(help_text: str = "") -> AgentChoiceField:
    return AgentChoiceField(
        User.objects.order_by("-is_active", "name", "email"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Members",
        help_text=help_text,
    )


def _role_field() -> forms.ChoiceField:
    return forms.ChoiceField(choices=User.Role.choices, initial=User.Role.AGENT, label="Role", help_text=ROLE_HELP)


def _name_field(help_text: str) -> forms.CharField:
    return forms.CharField(max_length=150, required=False, label="Name", help_text=help_text)


def ids(cleaned: dict[str, Any], field: str) -> list[int]:
    return [row.pk for row in cleaned.get(field) or ()]


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", help_text="The invitation goes here; it is also their login.")
    name = _name_field("How colleagues see them. Optional.")
    role = _role_field()
    teams = _teams_field("They work the inboxes of their teams.")
    inboxes = _inboxes_field("Inboxes they work directly, besides their teams'.")


class AgentProfileForm(forms.Form):
    name = _name_field("How colleagues see them.")
    role = _role_field()
    capacity = forms.IntegerField(
        min_value=0,
        max_value=MAX_CAPACITY,
        label="Capacity",
        help_text="Most open conversations auto-assignment gives them at once (0: none).",
    )


class AgentMembershipsForm(forms.Form):
    teams = _teams_field("They work the inboxes of their teams.")
    inboxes = _inboxes_field("Inboxes they work directly. Conversations of inboxes they lose go back to the queue.")


class ConfirmForm(forms.Form):
    """No fields: the button is the confirmation. Carries the refusal, if any, as a non-field error."""


class TeamNameForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")


class TeamMembersForm(forms.Form):
    members = _members_field("Members work every inbox of the team.")


class TeamInboxesForm(forms.Form):
    inboxes = _inboxes_field("Every member of the team works these inboxes.")


class InboxMembersForm(forms.Form):
    members = _members_field("People who work this inbox directly; members of its teams work it too.")


class InboxTeamsForm(forms.Form):
    teams = _teams_field("Every member of these teams works this inbox.")


class InboxAutoAssignForm(forms.Form):
    auto_assign = forms.BooleanField(
        required=False,
        label="Auto-assign new conversations",
        help_text="Round robin to online agents of this inbox who have free capacity.",
    )


# Settings: canned responses and labels ----------------------------------------------------------------


class InboxOrAllField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Inbox) -> str:
        return f"@{obj.handle}"


class CannedResponseForm(forms.Form):
    """A canned response's fields; ``inbox`` offers the inboxes ``user`` keeps canned responses for, and
    "All inboxes" to admins only (``inbox.selectors.canned.canned_may_manage``)."""

    shortcut = forms.SlugField(
        max_length=50,
        label="Shortcut",
        help_text="Agents type / and this to insert it: letters, digits, - and _.",
    )
    title = forms.CharField(max_length=100, label="Title")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Text",
        help_text="Placeholders: {{contact.name}}, {{contact.handle}}, {{agent.name}}, {{inbox.handle}}.",
        strip=False,
    )
    inbox = InboxOrAllField(Inbox.objects.none(), required=False, label="Inbox", empty_label="All inboxes")

    def __init__(self, *args: Any, user: User, inboxes: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("InboxOrAllField", self.fields["inbox"])  # the declared field's copy
        field.queryset = inboxes
        if not user.is_admin:
            field.required, field.empty_label = True, None
            field.help_text = "Canned responses for every inbox are kept by admins."


class LabelForm(forms.Form):
    name = forms.CharField(max_length=50, label="Name")
    color = forms.CharField(
        max_length=7,
        initial="#6b7280",
        label="Colour",
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text="Shown as the label's chip in the list and the thread.",
    )
    description = forms.CharField(max_length=200, required=False, label="Description")


# The audit log's filters --------------------------------------------------------------------------------

FIRST_YEAR, LAST_YEAR = 2000, 2999


class AuditFilterForm(forms.Form):
    """The audit log's GET filters; every refusal names the value and what is expected."""

    person = forms.ChoiceField(required=False, label="Person")
    kind = forms.ChoiceField(
        required=False, label="Kind", choices=[("", "Every kind"), *ConversationEvent.Kind.choices]
    )
    since = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "“From” is a day written YYYY-MM-DD."},
    )
    until = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "“To” is a day written YYYY-MM-DD."},
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10**6,
        widget=forms.HiddenInput,
        error_messages={"invalid": "The page is a whole number, 1 or more."},
    )

    def __init__(self, *args: Any, people: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ChoiceField", self.fields["person"])
        field.choices = [
            ("", "Everyone"),
            ("system", "Backchannel (automatic)"),
            *[(str(user.pk), f"{user.display_name} ({user.email})") for user in people],
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        for name in ("since", "until"):
            day = data.get(name)
            if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
                self.add_error(name, f"{day:%Y-%m-%d} is out of range: days from {FIRST_YEAR} to {LAST_YEAR}.")
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", f"“To” ({until:%Y-%m-%d}) is before “From” ({since:%Y-%m-%d}).")
        return data
