"""Serving DM media (our copy of X's file) to the agents who may see the conversation.

The URL names only our attachment id; X's URLs and credentials never reach the browser. Someone who may
not see the inbox gets the same 404 as for an id that does not exist. Files are served with the type
they were stored with, never sniffed, inline, cached only by the agent's own browser, and sandboxed in
case a file is not what its type says. ``MEDIA_ROOT`` must not be served by anything else.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase, HttpResponseNotFound
from django.views.decorators.http import require_safe

from accounts.http import AuthenticatedHttpRequest
from inbox.models import MessageAttachment
from inbox.selectors.access import attachment_for_user

CACHE_CONTROL = "private, max-age=3600"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _protect(response: HttpResponseBase, attachment: MessageAttachment) -> HttpResponseBase:
    name = attachment.file.name.rsplit("/", 1)[-1]
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = CACHE_CONTROL
    response["Vary"] = "Cookie"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Accept-Ranges"] = "bytes"
    return response


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``bytes=`` range; None to serve the whole file; ValueError if unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: the whole file is a valid answer
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ValueError
    return start, end


@login_required
@require_safe
def attachment(request: AuthenticatedHttpRequest, attachment_id: int) -> HttpResponseBase:
    """The stored file of attachment ``attachment_id``, for a user who may see its conversation's inbox.

    Supports a single ``Range`` (browsers need it to play and seek videos).
    """
    found = attachment_for_user(request.user, attachment_id)
    if found is None:
        raise Http404("No such attachment.")
    if not found.file or found.stored_at is None:
        reason = found.download_error or "It is still being copied from X; try again in a moment."
        return HttpResponseNotFound(
            f"This attachment is not stored here yet. {reason}", content_type="text/plain; charset=utf-8"
        )
    try:
        handle = found.file.open("rb")
    except FileNotFoundError:
        return HttpResponseNotFound("This attachment's file is missing from storage.", content_type="text/plain")
    content_type = found.content_type or "application/octet-stream"
    size = found.file.size
    try:
        wanted = _byte_range(request.headers.get("Range", ""), size)
    except ValueError:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _protect(response, found)
    if wanted is None:
        return _protect(FileResponse(handle, content_type=content_type), found)
    start, end = wanted
    with handle:
        handle.seek(start)
        body = handle.read(end - start + 1)
    response = HttpResponse(body, status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return _protect(response, found)
