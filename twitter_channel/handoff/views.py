"""The social managers' pages: make a "Send a private message" link for a public reply, copy reply and
link, see which conversations each link started, and get the website button snippet."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from twitter_channel.handoff import selectors
from twitter_channel.handoff.decorators import handoff_required
from twitter_channel.handoff.links import (
    HandoffError,
    handoff_link_create,
    handoff_link_url,
    handoff_public_reply,
    handoff_reply_post_set,
)
from twitter_channel.handoff.post_length import MAX_WEIGHTED_LENGTH, post_length
from twitter_channel.models import HandoffLink, XAccount

RECENT = 5


class LinkForm(forms.Form):
    account: forms.ModelChoiceField[XAccount] = forms.ModelChoiceField(
        queryset=None, label="X account", empty_label=None
    )
    campaign = forms.CharField(
        max_length=100, required=False, label="Campaign", widget=forms.TextInput(attrs={"list": "campaigns"})
    )
    post = forms.CharField(max_length=300, required=False, label="Customer's public post (address or id)")
    reply_text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Public reply")
    prefill_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Text the customer finds in the DM"
    )
    welcome_message_id = forms.RegexField(
        regex=r"^\d{1,20}$", required=False, label="Welcome message id (optional)",
        error_messages={"invalid": "A welcome message id is X's number, digits only."},
    )  # fmt: skip
    host = forms.ChoiceField(choices=HandoffLink.Host.choices, initial=HandoffLink.Host.TWITTER, label="Link form")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account = cast("forms.ModelChoiceField[XAccount]", self.fields["account"])  # the declared field's copy
        account.queryset = selectors.handoff_accounts(user)


def _wants_fragment(request: HttpRequest) -> bool:
    return request.headers.get("X-Fragment") == "1"


def _link_context(link: HandoffLink) -> dict[str, Any]:
    reply = handoff_public_reply(link)
    counted = post_length(reply)
    return {
        "link": link,
        "url": handoff_link_url(link),
        "public_reply": reply,
        "weighted": counted.weighted,
        "remaining": MAX_WEIGHTED_LENGTH - counted.weighted,
    }


@require_GET
@handoff_required
def handoff_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = LinkForm(user=request.user)
    return _page(request, form)


def _recent_results(request: AuthenticatedHttpRequest) -> list[Any]:
    """The "Recent links" list of the page: the newest five links of the accounts this person works."""
    return selectors.link_results(list(selectors.handoff_links(request.user)[:RECENT]))


def _page(request: AuthenticatedHttpRequest, form: LinkForm, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "form": form,
        "results": _recent_results(request),
        "campaigns": selectors.handoff_campaigns(request.user),
        "max_length": MAX_WEIGHTED_LENGTH,
        **extra,
    }
    return render(request, "twitter_channel/handoff/page.html", context, status=status)


@require_POST
@handoff_required
def link_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = LinkForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            link = handoff_link_create(created_by=request.user, **form.cleaned_data)
        except HandoffError as exc:
            form.add_error(None, str(exc))
    if form.errors:
        if _wants_fragment(request):
            message = " ".join(str(error) for errors in form.errors.values() for error in errors)
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return _page(request, form, status=400)
    if _wants_fragment(request):  # the new link, and the "Recent links" list that now has it
        context = _link_context(link) | {"results": _recent_results(request)}
        return render(request, "twitter_channel/handoff/_created.html", context)
    return redirect("handoff:link", link_id=link.pk)


def _visible_link(request: AuthenticatedHttpRequest, link_id: int) -> HandoffLink:
    link = selectors.handoff_links(request.user).filter(pk=link_id).first()
    if link is None:
        raise Http404("No such link in your accounts.")
    return link


@require_GET
@handoff_required
def link_detail(request: AuthenticatedHttpRequest, link_id: int) -> HttpResponse:
    return _link_page(request, _visible_link(request, link_id))


def _link_page(request: HttpRequest, link: HandoffLink, *, error: str = "", status: int = 200) -> HttpResponse:
    context = _link_context(link) | {
        "result": selectors.link_results([link])[0],
        "starts": selectors.link_conversations(link)[:100],
        "error": error,
    }
    return render(request, "twitter_channel/handoff/link.html", context, status=status)


@require_POST
@handoff_required
def link_reply_post(request: AuthenticatedHttpRequest, link_id: int) -> HttpResponse:
    """The public reply's address once posted: X's ``initiated_via`` then finds the link without the code."""
    link = _visible_link(request, link_id)
    try:
        handoff_reply_post_set(link=link, post=request.POST.get("post", ""))
    except HandoffError as exc:
        return _link_page(request, link, error=str(exc), status=400)
    return redirect("handoff:link", link_id=link.pk)


@require_GET
@handoff_required
def link_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    campaign = request.GET.get("campaign", "")
    links = list(selectors.handoff_links(request.user, campaign=campaign)[:200])
    context = {
        "results": selectors.link_results(links),
        "campaigns": selectors.handoff_campaigns(request.user),
        "campaign": campaign,
    }
    return render(request, "twitter_channel/handoff/links.html", context)


@require_GET
@handoff_required
def website_button(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The "Message us on X" button for a website: X's documented ``twitter-dm-button`` anchor."""
    accounts = list(selectors.handoff_accounts(request.user))
    return render(request, "twitter_channel/handoff/button.html", {"accounts": accounts})
