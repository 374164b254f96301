from django.urls import path

from twitter_channel import handoff_views

app_name = "handoff"

urlpatterns = [
    path("", handoff_views.handoff_page, name="page"),
    path("links/", handoff_views.link_list, name="links"),
    path("links/new/", handoff_views.link_create, name="create"),
    path("links/<int:link_id>/", handoff_views.link_detail, name="link"),
    path("links/<int:link_id>/reply-post/", handoff_views.link_reply_post, name="reply_post"),
    path("button/", handoff_views.website_button, name="button"),
]
