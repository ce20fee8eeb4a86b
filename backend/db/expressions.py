"""``AnyOf``: a column in a long list of values, sent as one array parameter (issue 17).

``filter(patient_id__in=ids)`` with the 2,000 ids of a scanner chunk has Django prepare every
value on its own and send one placeholder each; psycopg then splits and quotes a statement of
2,000 placeholders, too long for its statement cache — together a fifth of a flag re-scan.
``filter(AnyOf("patient_id", ids))`` is ``"patient_id" = ANY(%s)`` with the list as a single
parameter (an array): the same rows (PostgreSQL plans ``IN (…)`` as ``= ANY(ARRAY[…])``
anyway), the same indexes. tests/backend/test_db_expressions.py compares it with ``__in``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import BooleanField, Expression, F, Model


class AnyOf(Expression):
    """``column = ANY(values)``, usable wherever a ``Q`` is (``filter``, ``Q(...)``, ``&``).
    For ``filter`` only: unlike ``exclude(x__in=…)``, ``exclude(AnyOf(…))`` drops rows whose
    column is NULL (SQL's ``NOT (NULL = ANY …)`` is unknown)."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, values: Iterable[Any]) -> None:
        super().__init__()
        self.column: Any = F(column)
        # model instances stand for their keys, as with ``__in`` on a foreign key
        self.values = [v.pk if isinstance(v, Model) else v for v in values]

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.column,) = exprs

    def resolve_expression(
        self,
        query: Any = None,
        allow_joins: bool = True,
        reuse: Any = None,
        summarize: bool = False,
        for_save: bool = False,
    ) -> AnyOf:
        clone = self.copy()
        clone.column = self.column.resolve_expression(
            query, allow_joins, reuse, summarize, for_save
        )
        return clone

    def as_sql(self, compiler: Any, connection: Any) -> Any:  # the stubs allow no list param
        column, params = compiler.compile(self.column)
        return f"{column} = ANY(%s)", (*params, self.values)
