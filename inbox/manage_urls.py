"""``/manage/``: the admins' pages for agents, teams and inboxes (namespace ``manage``)."""

from django.urls import path

from inbox.views import manage as views

app_name = "manage"

urlpatterns = [
    path("", views.agent_list, name="agents"),
    path("agents/invite/", views.agent_invite, name="agent_invite"),
    path("agents/<int:user_id>/", views.agent_detail, name="agent"),
    path("agents/<int:user_id>/memberships/", views.agent_memberships, name="agent_memberships"),
    path("agents/<int:user_id>/deactivate/", views.agent_deactivate, name="agent_deactivate"),
    path("agents/<int:user_id>/reactivate/", views.agent_reactivate, name="agent_reactivate"),
    path("agents/<int:user_id>/resend-invitation/", views.agent_invite_resend, name="agent_invite_resend"),
    path("teams/", views.team_list, name="teams"),
    path("teams/<int:team_id>/", views.team_detail, name="team"),
    path("teams/<int:team_id>/members/", views.team_members, name="team_members"),
    path("teams/<int:team_id>/inboxes/", views.team_inboxes, name="team_inboxes"),
    path("teams/<int:team_id>/delete/", views.team_delete, name="team_delete"),
    path("inboxes/", views.inbox_list, name="inboxes"),
    path("inboxes/<int:inbox_id>/", views.inbox_detail, name="inbox"),
    path("inboxes/<int:inbox_id>/members/", views.inbox_members, name="inbox_members"),
    path("inboxes/<int:inbox_id>/teams/", views.inbox_teams, name="inbox_teams"),
    path("inboxes/<int:inbox_id>/auto-assign/", views.inbox_auto_assign, name="inbox_auto_assign"),
]
