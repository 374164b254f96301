from django.contrib import admin

from inbox.models import (
    CannedResponse,
    Contact,
    Conversation,
    ConversationEvent,
    Inbox,
    InboxMembership,
    Label,
    Message,
    MessageAttachment,
    Note,
    Participant,
)


class InboxMembershipInline(admin.TabularInline):
    model = InboxMembership
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ("handle", "display_name", "x_user_id", "auto_assign", "created_at")
    search_fields = ("handle", "display_name", "x_user_id")
    filter_horizontal = ("teams",)
    inlines = [InboxMembershipInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("handle", "name", "x_user_id", "followers_count", "verified", "profile_refreshed_at")
    search_fields = ("handle", "name", "x_user_id")
    list_filter = ("verified", "protected")


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    raw_id_fields = ("contact",)


class NoteInline(admin.StackedInline):
    model = Note
    extra = 0
    raw_id_fields = ("author",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = (
        "x_conversation_id",
        "inbox",
        "contact",
        "status",
        "priority",
        "assignee",
        "team",
        "last_message_at",
    )
    list_filter = ("status", "kind", "priority", "inbox", "team")
    search_fields = ("x_conversation_id", "contact__handle", "contact__name")
    raw_id_fields = ("contact", "assignee")
    filter_horizontal = ("labels",)
    date_hierarchy = "last_message_at"
    inlines = [ParticipantInline, NoteInline]


class MessageAttachmentInline(admin.TabularInline):
    model = MessageAttachment
    extra = 0


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("x_event_id", "conversation", "event_type", "direction", "delivery_state", "occurred_at")
    list_filter = ("event_type", "direction", "delivery_state")
    search_fields = ("x_event_id", "text")
    raw_id_fields = ("conversation", "sender_contact", "sender_agent")
    inlines = [MessageAttachmentInline]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ("name", "color", "description")
    search_fields = ("name",)


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "title", "inbox")
    search_fields = ("shortcut", "title", "body")


@admin.register(ConversationEvent)
class ConversationEventAdmin(admin.ModelAdmin):
    list_display = ("conversation", "kind", "actor", "created_at")
    list_filter = ("kind",)
    raw_id_fields = ("conversation", "actor")

    def has_change_permission(self, request, obj=None) -> bool:  # the activity log is append-only
        return False
