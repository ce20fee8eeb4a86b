"""``backend.db.rows``: fixed SQL whose rows and inserts match what the ORM does."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backend.audit.models import AuditEvent
from backend.db.rows import attnames, fetch_dicts, insert_returning_pk, load, prefixed, select_list

pytestmark = pytest.mark.django_db


def _columns(obj) -> dict:
    return {name: getattr(obj, name) for name in attnames(type(obj))}


def test_an_insert_stores_what_create_stores(coordinator):
    values = {
        "actor": coordinator,
        "actor_role": "coordinator",
        "organization_id": coordinator.organization_id,
        "action": "read",
        "object_type": "plans.careplan",
        "object_id": "7",
        "patient_id": 3,
        "request_id": "r-1",
        "ip": "192.0.2.10",
        "path": "/api/v1/plans/7/",
        "detail": {"list": True, "query": {"q": "ü \u2028 ✓"}},
    }
    before = timezone.now()
    ours = insert_returning_pk(AuditEvent(**values))
    theirs = AuditEvent.objects.create(**values)
    assert ours.pk is not None
    assert not ours._state.adding
    assert ours._state.db == "default"
    assert before <= ours.at <= theirs.at  # auto_now_add stamped as save stamps it
    stored, created = (AuditEvent.objects.get(pk=e.pk) for e in (ours, theirs))
    assert _columns(stored) == _columns(ours)  # every column, the stamped time included
    assert {k: v for k, v in _columns(stored).items() if k not in ("id", "at")} == {
        k: v for k, v in _columns(created).items() if k not in ("id", "at")
    }


def test_load_builds_the_orm_instance_and_defers_what_was_not_read(coordinator):
    event = AuditEvent.objects.create(
        actor=coordinator, action="read", object_type="x", detail={"a": [1, 2]}
    )
    columns = select_list("e", ["id", "detail", "action"], "e__")
    sql = f"SELECT {columns} FROM audit_auditevent e WHERE e.id = %s"  # noqa: S608
    (row,) = fetch_dicts(sql, [event.pk])
    loaded = load(AuditEvent, prefixed(row, "e__"))
    assert loaded.detail == {"a": [1, 2]}  # JSON text decoded as the field decodes it
    assert loaded.get_deferred_fields() >= {"object_type", "actor_id"}
    assert loaded.object_type == "x"  # deferred, loaded on access
    assert not loaded._state.adding


def test_load_all_builds_what_load_builds_for_every_row(coordinator):
    from backend.db.rows import load_all

    events = [
        AuditEvent.objects.create(
            actor=coordinator if n % 2 else None,
            action="read",
            object_type=f"type-{n}",
            detail={"n": n} if n else {},
        )
        for n in range(3)
    ]
    columns = select_list("e", ["id", "actor_id", "detail", "action", "at"])
    sql = f"SELECT {columns} FROM audit_auditevent e WHERE e.id = ANY(%s) ORDER BY e.id"  # noqa: S608
    rows = fetch_dicts(sql, [[e.pk for e in events]])
    loaded = load_all(AuditEvent, rows)
    one_by_one = [load(AuditEvent, row) for row in rows]
    assert all(e.get_deferred_fields() >= {"object_type"} for e in loaded)  # not read
    assert [_columns(e) for e in loaded] == [_columns(e) for e in one_by_one]
    assert [e.detail for e in loaded] == [{}, {"n": 1}, {"n": 2}]  # JSON decoded
    assert [e.actor_id for e in loaded] == [None, coordinator.pk, None]  # NULL stays None
    assert load_all(AuditEvent, []) == []


def test_fetch_together_answers_each_statement_in_order_and_raises_as_django(coordinator):
    from django.db import DatabaseError, connection, transaction

    from backend.db.rows import fetch_together

    event = AuditEvent.objects.create(actor=coordinator, action="read", object_type="x")
    answers = fetch_together(
        [
            ("SELECT %s::int AS a, %s::text AS b", [1, "one"]),
            ('SELECT id, "action" FROM audit_auditevent WHERE id = %(pk)s', {"pk": event.pk}),
            ("SELECT 1 AS none WHERE false", []),
        ]
    )
    assert answers == [
        (["a", "b"], [(1, "one")]),
        (["id", "action"], [(event.pk, "read")]),
        (["none"], []),
    ]
    # an error in one statement is Django's error; rolled back (here its savepoint), the
    # connection goes on
    with pytest.raises(DatabaseError), transaction.atomic():
        fetch_together([("SELECT 1", []), ("SELECT 1 / %s::int", [0])])
    with connection.cursor() as cur:
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)


@pytest.mark.django_db(transaction=True)
def test_fetch_together_in_autocommit_leaves_the_connection_usable_after_an_error():
    from django.db import DatabaseError, connection

    from backend.db.rows import fetch_together

    assert connection.get_autocommit()
    with pytest.raises(DatabaseError):
        fetch_together([("SELECT 1", []), ("SELECT 1 / %s::int", [0]), ("SELECT 3", [])])
    assert fetch_together([("SELECT %s::int AS n", [4])]) == [(["n"], [(4,)])]
    assert connection.get_autocommit()
