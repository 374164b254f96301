from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "twitter_channel.sandbox"
    label = "x_sandbox"
    verbose_name = "X sandbox"
    default_auto_field = "django.db.models.BigAutoField"
