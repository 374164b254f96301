from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from config.health import healthz
from inbox.urls import manage_urlpatterns, settings_urlpatterns
from inbox.views import agent_status as agent_status_views
from twitter_channel.inbound import webhook_views
from twitter_channel.outbound import budget_views

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("me/presence/", agent_status_views.presence, name="presence"),
    path("me/presence/team/", agent_status_views.team_presence, name="team_presence"),
    path("me/preferences/", account_views.preferences, name="preferences"),
    path("me/preferences/sound/", account_views.sound, name="preferences_sound"),
    path("settings/x-accounts/", include("twitter_channel.connection.urls")),
    path("settings/", include((settings_urlpatterns, "settings"))),
    path("twitter/webhook/", webhook_views.webhook, name="x_webhook"),
    path("x/budget/<int:inbox_id>/", budget_views.send_budget, name="x_send_budget"),
    path("handoff/", include("twitter_channel.handoff.urls")),
    path("manage/", include((manage_urlpatterns, "manage"))),
    path("", include("inbox.urls")),
]
