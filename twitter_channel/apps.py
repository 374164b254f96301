from django.apps import AppConfig


class TwitterChannelConfig(AppConfig):
    name = "twitter_channel"
    verbose_name = "X channel"

    def ready(self) -> None:
        from twitter_channel import checks  # noqa: F401  (registers the system checks)
