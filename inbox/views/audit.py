"""The admins' audit log: every conversation's activity, newest first, with who did it; filtered by person,
kind and days (a GET form, kept across pages), 50 a page. A filter that makes no sense answers 400 with
the form saying which and why, never a 500."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import admin_required
from accounts.http import AuthenticatedHttpRequest
from inbox.forms import AuditFilterForm
from inbox.selectors import audit as selectors


@require_GET
@admin_required
def audit_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET, people=selectors.audit_people())
    context: dict[str, object] = {"form": form, "per_page": selectors.PER_PAGE, "filtered": False}
    if not form.is_valid():
        return render(request, "inbox/audit.html", context, status=400)
    data = form.cleaned_data
    events = selectors.audit_events(person=data["person"], kind=data["kind"], since=data["since"], until=data["until"])
    paginator = Paginator(events, selectors.PER_PAGE)
    number = data["page"] or 1
    if number > paginator.num_pages:
        pages = f"{paginator.num_pages} page{'s' if paginator.num_pages != 1 else ''}"
        form.add_error("page", f"There is no page {number}: the log has {pages} for these filters.")
        return render(request, "inbox/audit.html", context, status=400)
    context["page"] = paginator.page(number)
    context["filtered"] = any(data[name] for name in ("person", "kind", "since", "until"))
    return render(request, "inbox/audit.html", context)
