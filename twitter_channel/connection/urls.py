from django.urls import path

from twitter_channel.connection import views

app_name = "x_accounts"

urlpatterns = [
    path("", views.account_list, name="list"),
    path("connect/", views.account_connect, name="connect"),
    path("callback/", views.oauth_callback, name="callback"),
    path("<int:pk>/disconnect/", views.account_disconnect, name="disconnect"),
    path("<int:pk>/subscribe/", views.account_subscribe, name="subscribe"),
    path("webhook/register/", views.webhook_register, name="webhook_register"),
    path("webhook/validate/", views.webhook_validate, name="webhook_validate"),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery_retry"),
]
