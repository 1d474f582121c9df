"""Django's PostgreSQL backend with a client-side deadline on statements and commits.

`query_deadline` (seconds, or None for no deadline) is set per connection by
`QueryDeadlineMiddleware` for the length of an HTTP request; workers and commands leave it
None, so migrations, seeding and long scans are never cut.
"""

from django.db.backends.postgresql import base

from .deadline import within_deadline
from .pool import check_connection


class DatabaseWrapper(base.DatabaseWrapper):
    query_deadline: float | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # First in the list, so every cursor execute (savepoints included) runs under it.
        self.execute_wrappers.append(self._execute_within_deadline)

    def _execute_within_deadline(self, execute, sql, params, many, context):
        with within_deadline(self, sql):
            return execute(sql, params, many, context)

    @property
    def pool(self):
        pool = super().pool
        # Django hands the pool psycopg's plain check (CONN_HEALTH_CHECKS) and takes no other;
        # ours runs the same check under the request's deadline.
        if pool is not None and pool._check is not check_connection:
            pool._check = check_connection
        return pool

    # COMMIT and ROLLBACK go to psycopg directly, not through a cursor.
    def _commit(self):
        with within_deadline(self, "COMMIT"):
            return super()._commit()

    def _rollback(self):
        with within_deadline(self, "ROLLBACK"):
            return super()._rollback()
