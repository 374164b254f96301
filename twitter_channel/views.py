"""Settings → X accounts: connect (OAuth 2.0 PKCE), reconnect and disconnect the business accounts."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import admin_required
from twitter_channel import connection
from twitter_channel.models import XAccount


def _accounts_page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    accounts = XAccount.objects.select_related("inbox", "connected_by").order_by("inbox__handle")
    return render(request, "twitter_channel/x_accounts.html", {"accounts": accounts, "error": error}, status=status)


@admin_required
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    return _accounts_page(request)


def _redirect_uri(request: HttpRequest) -> str:
    return settings.X_OAUTH_REDIRECT_URI or request.build_absolute_uri(reverse("x_accounts:callback"))


@admin_required
@require_POST
def account_connect(request: HttpRequest) -> HttpResponse:
    if not settings.X_CLIENT_ID:
        missing = "X_CLIENT_ID is not set, so there is no X app to connect with."
        return _accounts_page(request, error=missing, status=503)
    return redirect(connection.connect_start(session=request.session, redirect_uri=_redirect_uri(request)))


@admin_required
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    try:
        account = connection.connect_finish(session=request.session, params=request.GET.dict(), by=request.user)
    except connection.ConnectFailed as failure:
        return _accounts_page(request, error=str(failure), status=400)
    messages.success(request, f"Connected @{account.inbox.handle}. Importing its direct messages of the last 30 days.")
    return redirect("x_accounts:list")


@admin_required
@require_POST
def account_disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    result = connection.account_disconnect(account=get_object_or_404(XAccount, pk=pk))
    handle = result.account.inbox.handle
    if result.revoked_at_x:
        messages.success(request, f"Disconnected @{handle}. Its conversations stay in Backchannel.")
    else:
        messages.warning(
            request,
            f"Disconnected @{handle} here, but X could not be told ({result.problem}). "
            "Remove Backchannel under “Connected apps” in that account's X settings.",
        )
    return redirect("x_accounts:list")
