from django.contrib import admin
from django.urls import include, path

from config.health import healthz
from twitter_channel import webhook_views

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("settings/x-accounts/", include("twitter_channel.urls")),
    path("twitter/webhook/", webhook_views.webhook, name="x_webhook"),
    path("", include("inbox.urls")),
]
