from django.urls import path

from twitter_channel.handoff import batch_views as handoff_batch_views
from twitter_channel.handoff import views as handoff_views

app_name = "handoff"

urlpatterns = [
    path("", handoff_views.handoff_page, name="page"),
    path("links/", handoff_views.link_list, name="links"),
    path("links/new/", handoff_views.link_create, name="create"),
    path("links/<int:link_id>/", handoff_views.link_detail, name="link"),
    path("links/<int:link_id>/reply-post/", handoff_views.link_reply_post, name="reply_post"),
    path("button/", handoff_views.website_button, name="button"),
    path("batches/", handoff_batch_views.batch_list, name="batches"),
    path("batches/<int:batch_id>/", handoff_batch_views.batch_detail, name="batch"),
    path("batches/<int:batch_id>/progress/", handoff_batch_views.batch_progress, name="batch_progress"),
    path("batches/<int:batch_id>/csv/", handoff_batch_views.batch_csv, name="batch_csv"),
    path("batches/<int:batch_id>/run/", handoff_batch_views.batch_restart, name="batch_restart"),
]
