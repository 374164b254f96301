"""Settings → X accounts: connect (OAuth 2.0 PKCE), reconnect and disconnect the business accounts, and
keep their channel healthy (register the webhook, have X run the CRC again, resubscribe an account)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import admin_required
from accounts.http import AuthenticatedHttpRequest
from twitter_channel.connection import services as connection
from twitter_channel.connection import webhook_registration
from twitter_channel.inbound import deliveries
from twitter_channel.models import WebhookDelivery, WebhookEndpoint, XAccount


def _accounts_page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    accounts = [
        (account, webhook_registration.account_silence(account))
        for account in XAccount.objects.select_related("inbox", "connected_by").order_by("inbox__handle")
    ]
    url = _webhook_url(request)
    context = {
        "accounts": accounts,
        "trouble": deliveries.deliveries_trouble(),
        "error": error,
        "webhook_url": url,
        "endpoint": WebhookEndpoint.objects.filter(url=url).first(),
        "silence_alarm_hours": settings.X_WEBHOOK_SILENCE_ALARM / 3600,
    }
    return render(request, "twitter_channel/x_accounts.html", context, status=status)


def _webhook_url(request: HttpRequest) -> str:
    return settings.X_WEBHOOK_URL or request.build_absolute_uri(reverse("x_webhook"))


@admin_required
@require_GET
def account_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _accounts_page(request)


def _redirect_uri(request: HttpRequest) -> str:
    return settings.X_OAUTH_REDIRECT_URI or request.build_absolute_uri(reverse("x_accounts:callback"))


@admin_required
@require_POST
def account_connect(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not settings.X_CLIENT_ID:
        missing = "X_CLIENT_ID is not set, so there is no X app to connect with."
        return _accounts_page(request, error=missing, status=503)
    return redirect(connection.connect_start(session=request.session, redirect_uri=_redirect_uri(request)))


@admin_required
@require_GET
def oauth_callback(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        account = connection.connect_finish(session=request.session, params=request.GET.dict(), by=request.user)
    except connection.ConnectFailed as failure:
        return _accounts_page(request, error=str(failure), status=400)
    messages.success(request, f"Connected @{account.inbox.handle}. Importing its direct messages of the last 30 days.")
    return redirect("x_accounts:list")


@admin_required
@require_POST
def account_disconnect(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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


@admin_required
@require_POST
def webhook_register(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        endpoint = webhook_registration.endpoint_register(url=_webhook_url(request))
    except webhook_registration.RegistrationFailed as failure:
        messages.error(request, str(failure))
    else:
        verdict = "X's CRC passed" if endpoint.valid else "but X's CRC failed: check X_CONSUMER_SECRET"
        messages.success(request, f"The webhook {endpoint.url} is registered with X ({verdict}).")
    return redirect("x_accounts:list")


@admin_required
@require_POST
def webhook_validate(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        endpoint = webhook_registration.endpoint_revalidate(url=_webhook_url(request))
    except webhook_registration.RegistrationFailed as failure:
        messages.error(request, str(failure))
    else:
        if endpoint.valid:
            messages.success(request, "X ran the CRC again and it passed: the webhook is enabled.")
        else:
            messages.error(request, "X ran the CRC again and it failed: check X_CONSUMER_SECRET and the URL.")
    return redirect("x_accounts:list")


@admin_required
@require_POST
def account_subscribe(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(XAccount.objects.select_related("inbox"), pk=pk)
    try:
        webhook_registration.account_subscribe(account=account, url=_webhook_url(request))
    except webhook_registration.RegistrationFailed as failure:
        messages.error(request, str(failure))
    else:
        messages.success(request, f"X confirmed @{account.inbox.handle} is subscribed to the webhook.")
    return redirect("x_accounts:list")


@admin_required
@require_POST
def delivery_retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        delivery = deliveries.delivery_retry(delivery_id=pk)
    except WebhookDelivery.DoesNotExist:
        messages.error(request, f"There is no webhook delivery {pk}.")
    else:
        if delivery.status == WebhookDelivery.Status.RECEIVED:
            messages.success(request, f"Webhook delivery {pk} is being processed again.")
        else:
            state = delivery.get_status_display().lower()
            messages.info(request, f"Webhook delivery {pk} is {state}: nothing to retry.")
    return redirect("x_accounts:list")
