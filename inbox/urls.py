from django.urls import path

from inbox import media_views
from inbox.views import actions, audit, bulk, notifications, pages, reports, thread

app_name = "inbox"

urlpatterns = [
    path("", pages.inbox_page, name="home"),
    path("list/", pages.list_fragment, name="list"),
    path("list/<int:conversation_id>/", pages.row_fragment, name="row"),
    path("counts/", pages.counts_fragment, name="counts"),
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
    path("media/dm/<int:attachment_id>/", media_views.attachment, name="attachment"),
]
