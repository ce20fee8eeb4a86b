"""Django's PostgreSQL backend with ``timestamptz`` values parsed by psycopg's C loader.

Django registers a ``timestamptz`` loader derived from psycopg's *pure-Python* one
(``django/db/backends/postgresql/psycopg_any.py``: ``BaseTzLoader(TimestamptzLoader)``), so even
with ``psycopg[binary]`` every timestamp a query returns is parsed in Python — Django ticket
#36960, psycopg issue #1273 (the C loader is final and cannot be subclassed). Issue 17 measured
it: 17 % of a flag scan's time, the largest single cost after the readiness rules; 200 k rows of
two timestamps read in 2.1 s instead of 0.8 s.

``TzLoader`` keeps Django's loader class and its contract (parse in the session time zone, then
attach ``timezone``: Django sets the session to UTC, so values come back aware in UTC exactly as
before) but parses through the optimised class psycopg picks for ``TimestamptzLoader`` — the C
one with ``psycopg[binary]``, the Python one otherwise (then nothing changes). ``ENGINE =
"backend.db"`` (backend/settings/base.py) selects this backend; everything else is Django's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql import base as postgresql
from django.db.backends.postgresql import operations as postgresql_operations
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
from psycopg.adapt import Loader
from psycopg.types.datetime import TimestamptzLoader

# The class psycopg itself uses for TimestamptzLoader (psycopg_binary's C loader when
# installed). ``_get_optimised`` is how psycopg's own registration picks it (psycopg #1273).
OPTIMISED_TIMESTAMPTZ_LOADER: type = psycopg.adapters._get_optimised(TimestamptzLoader)


class TzLoader(BaseTzLoader):
    """Django's ``BaseTzLoader`` (``timezone`` attached after parsing) with the parsing done
    by ``OPTIMISED_TIMESTAMPTZ_LOADER``. Django's ``create_cursor`` compares ``timezone`` with
    the connection's and registers its own loader on the cursor when they differ, so a
    cursor with another time zone still gets Django's behaviour."""

    def __init__(self, oid: int, context: Any = None) -> None:
        # ``Loader.__init__`` only: the pure-Python ``TimestamptzLoader.__init__`` (its own
        # time zone and date style lookups) set up a parser this class never calls. One of
        # these is built per cursor and column type, so per query (issue 17: 5 % of a plan
        # detail request).
        Loader.__init__(self, oid, context)
        self._parse = OPTIMISED_TIMESTAMPTZ_LOADER(oid, context).load
        connection = self.connection
        if connection is not None and connection.info.timezone is self.timezone:
            # the session's zone is the one attached (Django sets the session to UTC): the
            # parsed value already carries it, so the C parse is the whole load
            self.load = self._parse  # type: ignore[method-assign]

    def load(self, data: Any) -> Any:
        return self._parse(data).replace(tzinfo=self.timezone)


@lru_cache
def adapters_template(use_tz: bool, timezone: Any) -> psycopg.adapt.AdaptersMap:
    """Django's adapters map for the connection, with ``TzLoader`` for ``timestamptz``."""
    context = psycopg.adapt.AdaptersMap(get_adapters_template(use_tz, timezone))
    loader = type("SpecificTzLoader", (TzLoader,), {"timezone": timezone})
    context.register_loader("timestamptz", loader)
    return context


NEVER_AUTOMATICALLY = 2**62


class PreparedCursor(postgresql.ServerBindingCursor):
    """A server-binding cursor that prepares every statement it runs: planned once per
    connection and SQL text, then executed by name (psycopg keeps the connection's last
    ``prepared_max`` statements). Django turns psycopg's automatic preparation off for every
    query (``prepare_threshold = None``, for connection poolers); this asks for it per cursor,
    for fixed statements only (``DatabaseWrapper.prepared_cursor``)."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kw: Any):
        prepare = True if prepare is None else prepare
        return super().execute(query, params, prepare=prepare, **kw)  # type: ignore[misc]


class DatabaseOperations(postgresql_operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        """The SQL with its values, for query logs and ``CaptureQueriesContext``. Django reads
        it back from a client-side cursor's own text; a statement bound on the server
        (``bound_cursor``, ``prepared_cursor``) has none, so it is composed the way Django
        composes it when the whole connection binds on the server."""
        if isinstance(cursor, postgresql.ServerBindingCursor):
            try:
                return self.compose_sql(sql, params)
            except psycopg.errors.DataError:
                return None  # type: ignore[return-value]  # as Django's own (None: not known)
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(postgresql.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params["context"] = adapters_template(settings.USE_TZ, self.timezone)
        if params.get("prepare_threshold") is None:
            # Django's None turns preparation off altogether, the explicit ``prepare=True`` of
            # ``PreparedCursor`` included; a threshold no statement reaches keeps psycopg's
            # automatic preparation off and lets a cursor ask for it.
            params["prepare_threshold"] = NEVER_AUTOMATICALLY
        return params

    def bound_cursor(self) -> Any:
        """A cursor like ``cursor()`` (query logging, error wrapping, thread checks) whose
        parameters travel bound, in the extended protocol, instead of being quoted into the
        SQL text by the driver (Django's default client-side binding). For a statement with
        one large parameter — the flag reconciler's JSON document of thousands of rows
        (plans/reconcile.py) — where quoting it in Python cost more than running it."""
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = postgresql.ServerBindingCursor(self.connection)  # type: ignore[call-arg]
            return self._prepare_cursor(cursor)  # type: ignore[attr-defined]  # what cursor() does

    def prepared_cursor(self) -> Any:
        """``bound_cursor`` whose statements are prepared on the server (``PreparedCursor``)."""
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = PreparedCursor(self.connection)  # type: ignore[call-arg]
            return self._prepare_cursor(cursor)  # type: ignore[attr-defined]  # what cursor() does


def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> Any:
    """``DatabaseWrapper.prepared_cursor`` of the connection ``using``."""
    return cast(DatabaseWrapper, connections[using]).prepared_cursor()


def bound_cursor(using: str = DEFAULT_DB_ALIAS) -> Any:
    """``DatabaseWrapper.bound_cursor`` of the connection ``using`` (always this backend:
    backend/settings/base.py selects it for PostgreSQL, the only database the project runs on)."""
    return cast(DatabaseWrapper, connections[using]).bound_cursor()
