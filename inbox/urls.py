from django.urls import path

from inbox import media_views, views

app_name = "inbox"

urlpatterns = [
    path("", views.conversation_list, name="home"),
    path("media/dm/<int:attachment_id>/", media_views.attachment, name="attachment"),
]
