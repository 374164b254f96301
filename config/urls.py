from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from config.health import healthz
from twitter_channel import budget_views, webhook_views

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("me/presence/", account_views.presence, name="presence"),
    path("settings/x-accounts/", include("twitter_channel.urls")),
    path("twitter/webhook/", webhook_views.webhook, name="x_webhook"),
    path("x/budget/<int:inbox_id>/", budget_views.send_budget, name="x_send_budget"),
    path("handoff/", include("twitter_channel.handoff_urls")),
    path("manage/", include("inbox.manage_urls")),
    path("", include("inbox.urls")),
]
