"""The inbox's pages (namespace ``inbox``); under ``/manage/``, the admins' pages for agents, teams and inboxes
(namespace ``manage``), and under ``/settings/`` canned responses and labels (namespace ``settings``), both
included by ``config/urls.py``."""

from django.urls import path

from inbox.views import (
    actions,
    alerts,
    audit,
    bulk,
    manage,
    media,
    notifications,
    pages,
    reports,
    settings_pages,
    thread,
)

app_name = "inbox"

urlpatterns = [
    path("", pages.inbox_page, name="home"),
    path("list/", pages.list_fragment, name="list"),
    path("list/<int:conversation_id>/", pages.row_fragment, name="row"),
    path("counts/", pages.counts_fragment, name="counts"),
    path("alerts/", alerts.alerts, name="alerts"),
    path("bulk/", bulk.bulk_apply, name="bulk"),
    path("c/<int:conversation_id>/", pages.inbox_page, name="conversation"),
    path("c/<int:conversation_id>/thread/", thread.thread_fragment, name="thread"),
    path("c/<int:conversation_id>/header/", thread.header_fragment, name="header"),
    path("c/<int:conversation_id>/timeline/", thread.timeline_fragment, name="timeline"),
    path("c/<int:conversation_id>/messages/<int:message_id>/", thread.message_fragment, name="message"),
    path("c/<int:conversation_id>/notes/<int:note_id>/", thread.note_fragment, name="note"),
    path("c/<int:conversation_id>/reply/", actions.reply, name="reply"),
    path("c/<int:conversation_id>/canned/", thread.canned_fragment, name="canned"),
    path("c/<int:conversation_id>/messages/<int:message_id>/retry/", actions.retry, name="retry"),
    path("c/<int:conversation_id>/messages/<int:message_id>/undo/", actions.undo, name="undo"),
    path("c/<int:conversation_id>/notes/", actions.note, name="add_note"),
    path("c/<int:conversation_id>/read/", actions.mark_read, name="read"),
    path("c/<int:conversation_id>/assign/", actions.assign, name="assign"),
    path("c/<int:conversation_id>/status/", actions.set_status, name="status"),
    path("c/<int:conversation_id>/team/", actions.set_team, name="team"),
    path("c/<int:conversation_id>/priority/", actions.set_priority, name="priority"),
    path("c/<int:conversation_id>/labels/", actions.set_labels, name="labels"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("audit/", audit.audit_log, name="audit"),
    path("reports/", reports.team_report, name="reports"),
    path("notifications/read/", notifications.notifications_read, name="notifications_read"),
    path("media/dm/<int:attachment_id>/", media.attachment, name="attachment"),
]

manage_urlpatterns = [
    path("", manage.agent_list, name="agents"),
    path("agents/invite/", manage.agent_invite, name="agent_invite"),
    path("agents/<int:user_id>/", manage.agent_detail, name="agent"),
    path("agents/<int:user_id>/memberships/", manage.agent_memberships, name="agent_memberships"),
    path("agents/<int:user_id>/deactivate/", manage.agent_deactivate, name="agent_deactivate"),
    path("agents/<int:user_id>/reactivate/", manage.agent_reactivate, name="agent_reactivate"),
    path("agents/<int:user_id>/resend-invitation/", manage.agent_invite_resend, name="agent_invite_resend"),
    path("teams/", manage.team_list, name="teams"),
    path("teams/<int:team_id>/", manage.team_detail, name="team"),
    path("teams/<int:team_id>/members/", manage.team_members, name="team_members"),
    path("teams/<int:team_id>/inboxes/", manage.team_inboxes, name="team_inboxes"),
    path("teams/<int:team_id>/delete/", manage.team_delete, name="team_delete"),
    path("inboxes/", manage.inbox_list, name="inboxes"),
    path("inboxes/<int:inbox_id>/", manage.inbox_detail, name="inbox"),
    path("inboxes/<int:inbox_id>/members/", manage.inbox_members, name="inbox_members"),
    path("inboxes/<int:inbox_id>/teams/", manage.inbox_teams, name="inbox_teams"),
    path("inboxes/<int:inbox_id>/auto-assign/", manage.inbox_auto_assign, name="inbox_auto_assign"),
]

settings_urlpatterns = [
    path("", settings_pages.settings_home, name="home"),
    path("canned-responses/", settings_pages.canned_list, name="canned"),
    path("canned-responses/preview/", settings_pages.canned_preview, name="canned_preview"),
    path("canned-responses/<int:canned_id>/", settings_pages.canned_detail, name="canned_edit"),
    path("canned-responses/<int:canned_id>/delete/", settings_pages.canned_delete, name="canned_delete"),
    path("labels/", settings_pages.label_list, name="labels"),
    path("labels/<int:label_id>/", settings_pages.label_detail, name="label_edit"),
    path("labels/<int:label_id>/delete/", settings_pages.label_delete, name="label_delete"),
]
