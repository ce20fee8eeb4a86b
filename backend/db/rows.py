"""Fixed SQL for hot, unchanging reads and writes, with rows turned into model instances.

A request's few fixed statements (the token's user, the plan detail's reads, the audit event)
cost more to *compile* from querysets than to run: ``SQLCompiler.as_sql`` for a ``select_related``
get is several times the query's own round trip (issue 17). Here such statements are written
once, over the models' own tables and columns, with every value a parameter, and their rows
come back as the ORM would build them: ``load`` goes through ``Model.from_db`` after the fields'
own conversions (``JSONField`` text → value), columns not read stay deferred (loaded on access,
never silently empty), and ``insert_returning_pk`` prepares every value with the field's own
``get_db_prep_save``, as ``QuerySet.create`` does.

Being fixed, these statements also run *prepared* (``backend.db.base.prepared_cursor``): their
values bound on the server, each statement parsed and planned once per connection and then
executed by name. Planning the plan list's page alone cost about a fifth of its query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models

from backend.db.base import prepared_cursor

M = TypeVar("M", bound=models.Model)

MAX_BIGINT = 2**63 - 1  # the largest primary key (bigint) a statement can be asked for


def attnames(model: type[models.Model]) -> list[str]:
    """The model's concrete columns (``attname``: ``user_id`` for a foreign key ``user``)."""
    return [f.attname for f in model._meta.concrete_fields]


def select_list(alias: str, columns: Iterable[str], prefix: str = "") -> str:
    """``alias."c" AS "<prefix>c", …`` — a select list whose names ``load`` / ``prefixed`` read."""
    return ", ".join(f'{alias}."{c}" AS "{prefix}{c}"' for c in columns)


def prefixed(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The entries of ``row`` named ``<prefix>…``, with the prefix dropped."""
    return {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}


def load(model: type[M], row: Mapping[str, Any], using: str = DEFAULT_DB_ALIAS) -> M:
    """``model`` as the ORM builds it from the database (``from_db`` after the fields' own
    conversions); fields missing from ``row`` are deferred, names not fields are ignored."""
    connection = connections[using]
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.attname in row:
            value = row[field.attname]
            if value is not None and hasattr(field, "from_db_value"):
                value = field.from_db_value(value, None, connection)
            names.append(field.attname)
            values.append(value)
    return model.from_db(using, names, values)


def load_all(
    model: type[M], rows: Sequence[Mapping[str, Any]], using: str = DEFAULT_DB_ALIAS
) -> list[M]:
    """``load`` of each of ``rows`` — the rows of one query, all with the same columns: which
    fields they hold and how each converts are worked out once, from the first."""
    if not rows:
        return []
    connection = connections[using]
    fields = [
        (f.attname, getattr(f, "from_db_value", None))
        for f in model._meta.concrete_fields
        if f.attname in rows[0]
    ]
    names = [name for name, _ in fields]
    return [
        model.from_db(
            using,
            names,
            [
                row[name]
                if convert is None or row[name] is None
                else convert(row[name], None, connection)
                for name, convert in fields
            ],
        )
        for row in rows
    ]


def fetch_dicts(
    sql: str, params: Sequence[Any] | Mapping[str, Any], using: str = DEFAULT_DB_ALIAS
) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts by column name."""
    with prepared_cursor(using) as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
        return as_dicts(_names(cur), rows)


def as_dicts(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """``rows`` as dicts by column name (``fetch_together`` gives names and rows apart)."""
    return [dict(zip(names, values, strict=True)) for values in rows]


def _names(cur: Any) -> list[str]:
    # the names straight from the result: ``description`` builds a Column, with its type
    # looked up, for each of a wide join's ~80 columns (issue 17: 5 % of a plan detail)
    result = cur.cursor.pgresult
    return [result.fname(i).decode() for i in range(result.nfields)]


def fetch_together(
    statements: Sequence[tuple[str, Sequence[Any] | Mapping[str, Any]]],
    using: str = DEFAULT_DB_ALIAS,
) -> list[tuple[list[str], list[tuple]]]:
    """Independent reads sent together in psycopg's pipeline mode — one round trip for all of
    them instead of one each — each prepared and bound as ``fetch_dicts``'s; each one's column
    names and rows, in order. An error in any is raised as Django's, as ``cursor()`` raises it."""
    wrapper = connections[using]
    cursors = [prepared_cursor(using) for _ in statements]
    try:
        with wrapper.wrap_database_errors, wrapper.connection.pipeline():
            for cur, (sql, params) in zip(cursors, statements, strict=True):
                cur.execute(sql, params)
        # leaving the pipeline synced it: every result is in
        return [(_names(cur), cur.fetchall()) for cur in cursors]
    finally:
        for cur in cursors:
            cur.close()


def insert_returning_pk(instance: models.Model, using: str = DEFAULT_DB_ALIAS) -> models.Model:
    """Insert ``instance`` (a new row of a model without ``save`` overrides or signal receivers
    that must run) in one fixed ``INSERT … RETURNING`` statement, compiled once per model;
    ``auto_now_add`` / ``auto_now`` fields are stamped as ``save`` stamps them. The instance
    comes back saved (its pk set, ``_state.adding`` False)."""
    model = type(instance)
    connection = connections[using]
    fields, sql = _insert_parts(model)
    values = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    with prepared_cursor(using) as cur:
        cur.execute(sql, values)
        (pk,) = cur.fetchone()
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using
    return instance


_INSERTS: dict[type[models.Model], tuple[list[models.Field], str]] = {}


def _insert_parts(model: type[models.Model]) -> tuple[list[models.Field], str]:
    if model not in _INSERTS:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key or not f.db_returning]
        columns = ", ".join(f'"{f.column}"' for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = (
            f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({marks})'  # noqa: S608 (model's names)
            f' RETURNING "{meta.pk.column}"'
        )
        _INSERTS[model] = (fields, sql)
    return _INSERTS[model]
