"""The agent inbox's views: the page and its list (``pages``), an open conversation (``thread``), and
what agents do to a conversation (``actions``). All of them are thin: parse, call a selector or a
service, render a template."""
