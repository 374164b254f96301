"""Backchannel's one way of writing dates and times (24-hour): ``{{ value }}``, ``|date`` and ``|time`` without a
format use these. ``inbox_format.when`` writes "08:27" for today and this ``DATETIME_FORMAT`` otherwise, as
``static/js/zone.js`` does in the browser."""

DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
