from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "twitter_channel.sandbox"
    label = "x_sandbox"
    verbose_name = "X sandbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from twitter_channel.sandbox import delivery, signals

        signals.dm_event_created.connect(delivery.on_dm_event_created, dispatch_uid="x_sandbox.webhook_delivery")
