from django.apps import AppConfig


class TwitterChannelConfig(AppConfig):
    name = "twitter_channel"
    verbose_name = "X channel"
