from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        # Registers the Celery tasks in every process, not only in workers: services enqueue
        # `inbox.auto_assign_pending` by name after commit (services/auto_assign.py).
        from inbox import tasks  # noqa: F401
