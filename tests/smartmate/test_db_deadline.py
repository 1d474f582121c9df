"""The client-side query deadline (smartmate/db): a frozen PostgreSQL costs a request at most
DB_QUERY_DEADLINE_SECONDS, answers 503, and leaves nothing half-written.

PostgreSQL is real; `FreezableProxy` makes it look hung (connections stay open, answers never
come), as a stopped server or a silent partition does.
"""

import threading
import time

import pytest
from django.db import OperationalError, connection, connections
from django.test import override_settings

from scheduling.models import Task
from smartmate.db.base import DatabaseWrapper
from smartmate.db.deadline import QueryDeadlineExceeded, watchdog
from tests.faults import FreezableProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxy():
    settings_dict = connection.settings_dict
    proxy = FreezableProxy(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    yield proxy
    proxy.close()


def _through(proxy, deadline):
    """A connection of our engine to the test database, through the proxy."""
    wrapper = DatabaseWrapper({**connection.settings_dict, "HOST": "127.0.0.1", "PORT": proxy.port}, alias="proxied")
    wrapper.query_deadline = deadline
    wrapper.inc_thread_sharing()  # the statements under test run in a thread we can wait on
    return wrapper


def _run_in_thread(work):
    outcome = {}

    def target():
        try:
            outcome["value"] = work()
        except Exception as exc:  # the outcome under test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def _backend_gone(pid, within=10.0):
    end = time.monotonic() + within
    while time.monotonic() < end:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return True
        time.sleep(0.05)
    return False


def test_a_statement_on_a_frozen_server_is_cut_at_its_deadline(db, proxy):
    wrapper = _through(proxy, deadline=0.3)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")  # answers while the proxy forwards
        assert cursor.fetchone() == (1,)
    proxy.freeze()

    thread, outcome = _run_in_thread(lambda: wrapper.cursor().execute("SELECT 2"))
    thread.join(timeout=10)  # without the deadline psycopg would wait for ever

    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), QueryDeadlineExceeded)
    assert "0.3 s" in str(outcome["error"])
    assert watchdog.armed_count == 0
    wrapper.close()


def test_a_commit_cut_at_its_deadline_leaves_nothing_written(transactional_db, proxy):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE deadline_probe (note text)")
    try:
        wrapper = _through(proxy, deadline=0.3)
        wrapper.set_autocommit(False)
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
            cursor.execute("INSERT INTO deadline_probe VALUES ('half-written?')")
        proxy.freeze()  # the COMMIT never reaches the server

        thread, outcome = _run_in_thread(wrapper.commit)
        thread.join(timeout=10)

        assert not thread.is_alive()
        assert isinstance(outcome.get("error"), QueryDeadlineExceeded)
        # The cut closes the session, so the server rolls the transaction back.
        assert _backend_gone(backend)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM deadline_probe")
            assert cursor.fetchone()[0] == 0
        wrapper.close()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE deadline_probe")


def test_outside_a_request_there_is_no_deadline(db, proxy):
    wrapper = _through(proxy, deadline=None)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
    proxy.freeze()

    thread, outcome = _run_in_thread(lambda: wrapper.cursor().execute("SELECT 2"))
    thread.join(timeout=1.0)

    assert thread.is_alive()  # a worker or a migration waits for the server, however long
    assert watchdog.armed_count == 0
    proxy.close()  # release it: the connection drops
    thread.join(timeout=10)
    assert isinstance(outcome.get("error"), OperationalError)
    assert not isinstance(outcome["error"], QueryDeadlineExceeded)
    wrapper.close()


@override_settings(DB_QUERY_DEADLINE_SECONDS=0.5)
def test_a_request_on_a_frozen_database_answers_503_and_writes_nothing(transactional_db, auth_api, proxy):
    default = connections["default"]
    saved = default.settings_dict["HOST"], default.settings_dict["PORT"]
    default.close()
    default.settings_dict["HOST"], default.settings_dict["PORT"] = "127.0.0.1", proxy.port
    try:
        created = auth_api.post("/api/v1/tasks/", {"title": "before the freeze"}, format="json")
        assert created.status_code == 201

        proxy.freeze()
        frozen = auth_api.post("/api/v1/tasks/", {"title": "during the freeze"}, format="json")
        assert frozen.status_code == 503
        assert frozen.json()["error"]["code"] == "service_unavailable"
        assert default.query_deadline is None  # disarmed when the request ended

        default.close()  # as the end of a real request does with an unusable connection
        proxy.thaw()
        after = auth_api.post("/api/v1/tasks/", {"title": "after the thaw"}, format="json")
        assert after.status_code == 201
    finally:
        default.close()
        default.settings_dict["HOST"], default.settings_dict["PORT"] = saved

    assert sorted(Task.objects.values_list("title", flat=True)) == ["after the thaw", "before the freeze"]
