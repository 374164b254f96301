from django.apps import AppConfig


class TwitterChannelConfig(AppConfig):
    name = "twitter_channel"
    verbose_name = "X channel"

    def ready(self) -> None:
        # checks: registers the system checks. tasks: registers the Celery tasks in every process, not only
        # in workers, because the inbox asks for `twitter_channel.reply_send` by name (it does not import us).
        from twitter_channel import checks, tasks  # noqa: F401
        from twitter_channel.outbound.rate_windows import settings_check

        # Malformed X_DM_LIMITS_* / X_DM_LIMIT_MARGIN stop every process (web, worker, manage.py) at start,
        # with the variable named, rather than a send failing later.
        settings_check()
