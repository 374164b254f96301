"""Database connections around Celery tasks: returned to the pool after a task, never closed under an inline one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from config.celery import connections_returned

pytestmark = pytest.mark.django_db(transaction=True)


def task(*, eager: bool) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def test_after_a_worker_task_the_connection_goes_back_and_the_next_task_gets_a_working_one():
    connection.ensure_connection()

    connections_returned(sender=task(eager=False))

    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_task_run_inline_leaves_its_callers_connection_and_transaction_alone():
    with transaction.atomic():
        connection.ensure_connection()
        before = connection.connection

        connections_returned(sender=task(eager=True))

        assert connection.connection is before
        assert connection.in_atomic_block
