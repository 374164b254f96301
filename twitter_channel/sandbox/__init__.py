"""A local X API for demos, development and end-to-end tests.

It runs as its own process with its own settings (``twitter_channel.sandbox.settings``) and its
own SQLite database, and imports nothing from the rest of ``twitter_channel``: it must catch the
client's mistakes, not share them. Start it with ``python manage.py runsandbox``.
"""
