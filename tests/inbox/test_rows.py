"""The hot path's raw SQL (``inbox.services.rows``) on PostgreSQL: what it inserts, and statements prepared
once they repeat, logged like any other query, and not prepared when the setting says not to."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.models import Contact
from inbox.services.rows import PREPARE_AFTER, hot_cursor, rows_insert, rows_select

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("Prepared statements are PostgreSQL's; set DATABASE_URL.")


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_statement_of_the_hot_path_is_prepared_once_it_repeats():
    Contact.objects.create(x_user_id="2244994945", name="María")

    for _ in range(PREPARE_AFTER + 1):
        found = rows_select(Contact, "t.x_user_id = %s", ["2244994945"])

    assert [contact.name for contact in found] == ["María"]
    assert any('FROM "inbox_contact" t WHERE t.x_user_id = $1' in s for s in prepared_statements())


def test_where_queries_are_logged_each_statement_is_logged_with_its_values():
    Contact.objects.create(x_user_id="2244994945", name="María")

    with CaptureQueriesContext(connection) as logged:
        for _ in range(PREPARE_AFTER + 1):
            rows_select(Contact, "t.x_user_id = %s", ["2244994945"])

    assert len(logged.captured_queries) == PREPARE_AFTER + 1
    assert all("t.x_user_id = '2244994945'" in query["sql"] for query in logged.captured_queries)


def test_without_prepared_statements_nothing_is_prepared(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False

    for _ in range(PREPARE_AFTER + 2):
        with hot_cursor() as cursor:
            cursor.execute("SELECT count(*) AS not_prepared FROM inbox_contact WHERE x_user_id = %s", ["1"])

    assert not any("not_prepared" in statement for statement in prepared_statements())


def test_inserting_with_conflicts_ignored_returns_the_rows_inserted_with_their_ids():
    existing = Contact.objects.create(x_user_id="1", name="Already here")

    inserted = rows_insert(
        [Contact(x_user_id="1", name="Again"), Contact(x_user_id="2", name="New")],
        ignore_conflicts=True,
        unique_field="x_user_id",
    )

    assert [(contact.x_user_id, contact.name) for contact in inserted] == [("2", "New")]
    assert inserted[0].pk == Contact.objects.get(x_user_id="2").pk
    assert Contact.objects.get(pk=existing.pk).name == "Already here"
