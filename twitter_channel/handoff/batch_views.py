"""Bulk generation pages: paste or upload posts, follow the job's progress live, download the CSV."""

from __future__ import annotations

import codecs
from typing import Any, cast

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from twitter_channel.handoff import selectors
from twitter_channel.handoff.batches import (
    AUTHOR,
    MAX_ROWS,
    PREFILL_MAX_LENGTH,
    STUCK_AFTER,
    handoff_batch_create,
    handoff_batch_csv,
    handoff_batch_restart,
)
from twitter_channel.handoff.decorators import handoff_required
from twitter_channel.handoff.links import HandoffError
from twitter_channel.handoff.post_length import MAX_WEIGHTED_LENGTH
from twitter_channel.models import HandoffBatch, HandoffLink, XAccount

MAX_FILE_BYTES = 1_000_000
FINISHED = (HandoffBatch.Status.DONE, HandoffBatch.Status.FAILED)


class BatchForm(forms.Form):
    account: forms.ModelChoiceField[XAccount] = forms.ModelChoiceField(
        queryset=None, label="X account", empty_label=None
    )
    campaign = forms.CharField(
        max_length=100, required=False, label="Campaign", widget=forms.TextInput(attrs={"list": "campaigns"})
    )
    reply_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Public reply",
        help_text=f"Write {AUTHOR} where the post's author goes: it becomes their @handle. Each reply gets its "
        f"own link at the end (23 characters); a reply that a long handle pushes over {MAX_WEIGHTED_LENGTH} is "
        "shortened with “…”.",
    )
    prefill_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=PREFILL_MAX_LENGTH,
        label="Text the customer finds in the DM",
        help_text=f"{AUTHOR} works here too. The link's reference code is added on a line of its own.",
    )
    host = forms.ChoiceField(choices=HandoffLink.Host.choices, initial=HandoffLink.Host.TWITTER, label="Link form")
    posts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        required=False,
        label="Posts, one per line",
        help_text="The post's address, or its id then the author's handle: "
        "“https://x.com/ana/status/1790…” or “1790…, @ana”. Separate columns with a comma, a semicolon or a "
        f"tab; a header row (post, author) is fine. At most {MAX_ROWS:,} posts.",
    )
    posts_file = forms.FileField(
        required=False,
        label="Or a CSV file",
        help_text="Same columns as above, UTF-8 or Excel's CSV.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,text/csv,text/plain"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account = cast("forms.ModelChoiceField[XAccount]", self.fields["account"])  # the declared field's copy
        account.queryset = selectors.handoff_accounts(user)

    def clean_posts_file(self) -> str:
        upload: UploadedFile | None = self.cleaned_data.get("posts_file")
        if not upload:
            return ""
        if upload.size is not None and upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(f"The file is over {MAX_FILE_BYTES // 1000:,} KB; split it.")
        return _decode(upload.read())

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        pasted, uploaded = data.get("posts", "").strip(), data.get("posts_file", "")
        if "posts_file" in self.errors:
            return data
        if pasted and uploaded.strip():
            raise forms.ValidationError("Paste the posts or upload a file, not both.")
        if not pasted and not uploaded.strip():
            self.add_error("posts", "Paste the posts, one per line, or upload a CSV file.")
        data["text"] = pasted or uploaded
        return data


def _decode(content: bytes) -> str:
    """A file's text: UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text"), or Windows-1252
    (Excel's "CSV" on Windows; addresses and handles are ASCII anyway)."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not readable text (broken UTF-16).") from exc
    if b"\x00" in content:
        raise forms.ValidationError("This is not a text or CSV file.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise forms.ValidationError("The file is not text: save it as CSV UTF-8.") from exc


@require_http_methods(["GET", "POST"])
@handoff_required
def batch_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The form (GET), or a new batch from it (POST: then its page; bad input: the form again, 400)."""
    if request.method == "GET":
        return _list_page(request, BatchForm(user=request.user))
    form = BatchForm(request.POST, request.FILES, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            batch = handoff_batch_create(
                account=data["account"],
                created_by=request.user,
                campaign=data["campaign"],
                reply_template=data["reply_template"],
                prefill_template=data["prefill_template"],
                host=data["host"],
                text=data["text"],
            )
        except HandoffError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("handoff:batch", batch_id=batch.pk)
    return _list_page(request, form, status=400)


def _list_page(request: AuthenticatedHttpRequest, form: BatchForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "batches": selectors.handoff_batches_visible(request.user)[:50],
        "campaigns": selectors.handoff_campaigns(request.user),
        "max_rows": MAX_ROWS,
    }
    return render(request, "twitter_channel/handoff/batches.html", context, status=status)


def _visible_batch(request: AuthenticatedHttpRequest, batch_id: int) -> HandoffBatch:
    batch = selectors.handoff_batches_visible(request.user).filter(pk=batch_id).first()
    if batch is None:
        raise Http404("No such batch in your accounts.")
    return batch


def _batch_context(batch: HandoffBatch) -> dict[str, Any]:
    return {
        "batch": batch,
        "finished": batch.status in FINISHED,
        "stuck": batch.status == HandoffBatch.Status.QUEUED and timezone.now() - batch.created_at >= STUCK_AFTER,
        "rows": sorted((row for row in batch.rows if row.get("done")), key=lambda row: row["line"]),
    }


@require_GET
@handoff_required
def batch_detail(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = _visible_batch(request, batch_id)
    return render(request, "twitter_channel/handoff/batch.html", _batch_context(batch))


@require_POST
@handoff_required
def batch_restart(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = _visible_batch(request, batch_id)
    try:
        handoff_batch_restart(batch_id=batch.pk)
    except HandoffError as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
    return redirect("handoff:batch", batch_id=batch.pk)


@require_GET
@handoff_required
def batch_progress(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    """The progress fragment, which the page fetches when its websocket (re)connects."""
    batch = _visible_batch(request, batch_id)
    response = render(request, "twitter_channel/handoff/_batch_progress.html", _batch_context(batch))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@handoff_required
def batch_csv(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = _visible_batch(request, batch_id)
    if batch.status not in FINISHED:
        return HttpResponse(
            "The batch is still being generated; its CSV is ready when it is done.",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(handoff_batch_csv(batch), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="handoff-batch-{batch.pk}.csv"'
    response["Cache-Control"] = "no-store"
    return response
