"""The agent's own preferences page."""

from __future__ import annotations

from django import forms

from accounts.time_zones import time_zone_names


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(
        required=False,
        label="Time zone",
        help_text="Every time in Backchannel is shown in it, and snoozing until 09:00 means 09:00 there.",
    )
    desktop_notifications = forms.BooleanField(required=False, label="Desktop notifications")
    sound = forms.BooleanField(required=False, label="Sound")
    notify_mine = forms.BooleanField(required=False, label="Mine (assigned to me)")
    notify_unassigned = forms.BooleanField(required=False, label="Unassigned")
    notify_teams = forms.BooleanField(required=False, label="My teams")

    def __init__(self, *args: object, browser_zone: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        browser = f"My browser's ({browser_zone})" if browser_zone else "My browser's"
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", browser), *((name, name.replace("_", " ")) for name in time_zone_names())]
