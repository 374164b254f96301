"""X's paths (served whatever the host: api.x.com or api.twitter.com style) and ``/sandbox/``."""

from django.urls import path

from twitter_channel.sandbox.views import control, dm, media, oauth, simulator, users, webhooks

x_api = [
    path("2/dm_conversations/with/<str:participant_id>/messages", dm.send_with_participant),
    path("2/dm_conversations/with/<str:participant_id>/dm_events", dm.list_with_participant),
    path("2/dm_conversations/<str:conversation_id>/messages", dm.send_to_conversation),
    path("2/dm_conversations/<str:conversation_id>/dm_events", dm.list_conversation),
    path("2/dm_conversations", dm.create_group),
    path("2/dm_events/<str:event_id>", dm.event),
    path("2/dm_events", dm.list_events),
    path("2/users/me", users.me),
    path("2/users/by/username/<str:username>", users.by_username),
    path("2/users/by", users.by_usernames),
    path("2/users/<str:user_id>", users.by_id),
    path("2/users", users.by_ids),
]

sandbox_api = [
    path("sandbox/api/health", control.health),
    path("sandbox/api/reset", control.reset),
    path("sandbox/api/app", control.app_credentials),
    path("sandbox/api/users", control.users),
    path("sandbox/api/users/<str:user>/messages", control.send_as),
    path("sandbox/api/users/<str:user>/typing", control.typing_to),
    path("sandbox/api/users/<str:user>/read", control.read_receipt),
    path("sandbox/api/deliveries", control.deliveries),
    path("sandbox/api/tokens", control.tokens),
    path("sandbox/api/clock", control.advance_clock),
    path("sandbox/api/faults", control.faults),
    path("sandbox/api/rate-limits", control.rate_limits),
    path("sandbox/api/counters", control.counters),
    path("sandbox/api/posts", control.posts),
]

urlpatterns = x_api + media.urlpatterns + sandbox_api + oauth.urlpatterns + simulator.urlpatterns + webhooks.urlpatterns
