"""Django's PostgreSQL backend with a client-side deadline on statements and commits.

`query_deadline` (seconds, or None for no deadline) is set per connection by
`QueryDeadlineMiddleware` for the length of an HTTP request; workers and commands leave it
None, so migrations, seeding and long scans are never cut.
"""

from django.db.backends.postgresql import base

from .deadline import within_deadline


class DatabaseWrapper(base.DatabaseWrapper):
    query_deadline: float | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # First in the list, so every cursor execute (savepoints included) runs under it.
        self.execute_wrappers.append(self._execute_within_deadline)

    def _execute_within_deadline(self, execute, sql, params, many, context):
        with within_deadline(self, sql):
            return execute(sql, params, many, context)

    # COMMIT and ROLLBACK go to psycopg directly, not through a cursor.
    def _commit(self):
        with within_deadline(self, "COMMIT"):
            return super()._commit()

    def _rollback(self):
        with within_deadline(self, "ROLLBACK"):
            return super()._rollback()
