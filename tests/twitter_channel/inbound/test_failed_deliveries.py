"""A webhook delivery that failed processing is shown to admins on Settings → X accounts with its reason,
and "Retry" processes it again at once; deliveries that wait too long (no worker) raise an alarm there."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import make_agent
from tests.twitter_channel.inbound.test_webhook_drain import stored
from tests.twitter_channel.inbound.webhook_deliveries import account_for, thread
from twitter_channel.inbound import delivery_processing
from twitter_channel.inbound.deliveries import deliveries_drain
from twitter_channel.models import WebhookDelivery

pytestmark = pytest.mark.django_db
PAGE = "/settings/x-accounts/"


@pytest.fixture
def failed_once(monkeypatch: pytest.MonkeyPatch) -> WebhookDelivery:
    """A delivery whose first processing failed (the database refused it, say); the next one works."""
    account_for()
    delivery = stored(0)
    real = delivery_processing._read
    # twice: the batch without savepoints, then the same batch again, carefully (deliveries._drain_batch)
    failures = iter([RuntimeError("the database refused the batch")] * 2)

    def read(work_delivery, accounts, careful=True):
        if work_delivery.pk == delivery.pk:
            failure = next(failures, None)
            if failure is not None:
                raise failure
        return real(work_delivery, accounts, careful)

    monkeypatch.setattr(delivery_processing, "_read", read)
    deliveries_drain()
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    return delivery


def test_the_page_shows_a_failed_delivery_with_its_reason_and_retry_processes_it(
    admin_client: Client, failed_once, django_capture_on_commit_callbacks
):
    # when an admin opens Settings → X accounts
    page = admin_client.get(PAGE).content.decode()

    # then the delivery is listed with why it failed and a Retry button
    assert "Deliveries that could not be processed" in page
    assert f'data-delivery="{failed_once.pk}"' in page
    assert "Processing stopped: RuntimeError: the database refused the batch" in page
    assert f"Retry delivery {failed_once.pk}" in page

    # when they press Retry (the drain runs inline after commit in this test configuration)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{PAGE}deliveries/{failed_once.pk}/retry/", follow=True)

    # then it is processed, its DM is in the inbox, and the page lists no failure any more
    assert "is being processed again" in response.content.decode()
    failed_once.refresh_from_db()
    assert failed_once.status == WebhookDelivery.Status.PROCESSED
    assert thread(failed_once.account) == ["m0"]
    assert "None: every webhook delivery so far was processed." in admin_client.get(PAGE).content.decode()


def test_retrying_a_delivery_that_did_not_fail_changes_nothing(admin_client: Client):
    account_for()
    delivery = stored(0)
    deliveries_drain()

    response = admin_client.post(f"{PAGE}deliveries/{delivery.pk}/retry/", follow=True)

    assert "is processed: nothing to retry" in response.content.decode()
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 1


def test_only_admins_may_retry(client: Client, failed_once):
    agent = make_agent()
    client.force_login(agent)

    assert client.post(f"{PAGE}deliveries/{failed_once.pk}/retry/").status_code == 403
    assert WebhookDelivery.objects.get(pk=failed_once.pk).status == WebhookDelivery.Status.FAILED


def test_deliveries_no_worker_takes_raise_an_alarm_on_the_page(admin_client: Client):
    # given two deliveries stored minutes ago that nothing processed (no worker), and one just arrived
    account_for()
    stored(0, received_at=timezone.now() - timedelta(minutes=5))
    stored(1, received_at=timezone.now() - timedelta(minutes=2))
    stored(2)

    page = admin_client.get(PAGE).content.decode()

    # then the page says how many wait and since when; the fresh one is not counted
    alarm = r"2 webhook deliveries are waiting to be processed, the oldest since <time[^>]*>5.minutes ago"
    assert re.search(alarm, page)
    assert "None: every webhook delivery so far was processed." not in page
