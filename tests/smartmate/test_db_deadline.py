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
from django.utils import timezone

from accounts.models import IdempotencyRecord
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


def _through_default(proxy):
    """Route the default connection through the proxy for the rest of the test."""
    default = connections["default"]
    saved = default.settings_dict["HOST"], default.settings_dict["PORT"]
    default.close()
    default.settings_dict["HOST"], default.settings_dict["PORT"] = "127.0.0.1", proxy.port

    def restore():
        default.close()
        default.settings_dict["HOST"], default.settings_dict["PORT"] = saved

    return restore


@override_settings(DB_QUERY_DEADLINE_SECONDS=0.5)
def test_a_create_whose_commit_landed_but_whose_answer_was_lost_replays_on_retry(transactional_db, auth_api):
    """The task and its Idempotency-Key record commit together, so the retry finds the answer."""
    settings_dict = connection.settings_dict
    state = {"insert_seen": False}

    def freeze_after_the_task_commit(data):
        if b'INSERT INTO "scheduling_task"' in data:
            state["insert_seen"] = True
        elif state["insert_seen"] and b"COMMIT" in data:
            proxy.freeze_answers()  # this COMMIT reaches the server; its answer never comes back

    upstream = settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)
    proxy = FreezableProxy(*upstream, on_request=freeze_after_the_task_commit)
    restore = _through_default(proxy)
    headers = {"HTTP_IDEMPOTENCY_KEY": "lost-answer-1"}
    body = {"title": "committed, answer lost"}
    try:
        lost = auth_api.post("/api/v1/tasks/", body, format="json", **headers)
        assert lost.status_code == 503  # the client cannot know the task exists

        connections["default"].close()
        state["insert_seen"] = False
        proxy.thaw()
        retry = auth_api.post("/api/v1/tasks/", body, format="json", **headers)
    finally:
        restore()
        proxy.close()

    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert list(Task.objects.values_list("id", flat=True)) == [retry.json()["id"]]


@override_settings(DB_QUERY_DEADLINE_SECONDS=0.5)
def test_a_create_cut_before_its_commit_is_done_once_by_the_retry(transactional_db, auth_api, proxy, user):
    restore = _through_default(proxy)
    headers = {"HTTP_IDEMPOTENCY_KEY": "cut-before-commit-1"}
    body = {"title": "cut before commit"}
    try:
        auth_api.post("/api/v1/tasks/", {"title": "warm-up"}, format="json")
        proxy.freeze()
        cut = auth_api.post("/api/v1/tasks/", body, format="json", **headers)
        assert cut.status_code == 503
        connections["default"].close()
        proxy.thaw()
        retry = auth_api.post("/api/v1/tasks/", body, format="json", **headers)
        if retry.status_code == 409:  # the frozen server kept the key's record in progress
            assert retry.json()["error"]["code"] == "idempotency_in_progress"
            IdempotencyRecord.objects.filter(user=user, key=headers["HTTP_IDEMPOTENCY_KEY"]).update(
                locked_until=timezone.now()
            )  # what the lock's expiry does
            retry = auth_api.post("/api/v1/tasks/", body, format="json", **headers)
    finally:
        restore()

    assert retry.status_code == 201
    assert Task.objects.filter(title="cut before commit").count() == 1
