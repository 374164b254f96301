"""What an agent sets about themselves: their preferences (time zone, alerts); presence is in inbox.views."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import PreferencesForm
from accounts.http import AuthenticatedHttpRequest
from accounts.selectors import preferences_of
from accounts.services import preferences_sound_set, preferences_update
from accounts.time_zones import BROWSER_ZONE_COOKIE

PREFERENCE_FIELDS = ("time_zone", "desktop_notifications", "sound", "notify_mine", "notify_unassigned", "notify_teams")


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The agent's time zone and how new customer messages alert them (``preferences_update``)."""
    current = preferences_of(request.user)
    browser_zone = request.COOKIES.get(BROWSER_ZONE_COOKIE, "")
    if request.method == "POST":
        form = PreferencesForm(request.POST, browser_zone=browser_zone)
        if form.is_valid():
            try:
                preferences_update(user=request.user, **{name: form.cleaned_data[name] for name in PREFERENCE_FIELDS})
            except ValueError as exc:
                form.add_error("time_zone", str(exc))
            else:
                messages.success(request, "Preferences saved.")
                return redirect("preferences")
        status = 400
    else:
        initial = {name: getattr(current, name) for name in PREFERENCE_FIELDS}
        form = PreferencesForm(initial=initial, browser_zone=browser_zone)
        status = 200
    zone = getattr(request, "time_zone", "")  # set by TimeZoneMiddleware
    return render(
        request, "account/preferences.html", {"form": form, "zone_label": zone.replace("_", " ")}, status=status
    )


@require_POST
@login_required
def sound(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The inbox's mute button: ``sound`` = ``on`` or ``off``; answers the stored value."""
    value = request.POST.get("sound", "")
    if value not in ("on", "off"):
        return JsonResponse({"error": "sound must be on or off"}, status=400)
    stored = preferences_sound_set(user=request.user, sound=value == "on")
    return JsonResponse({"sound": stored.sound})
