"""Failure injection (docs/RELIABILITY.md): `.venv/bin/python bench/failure_injection.py`.

Starts PRIVATE parts on loopback (a PostgreSQL cluster from initdb/pg_ctl, a redis-server
that keeps nothing, a Tansu broker), migrates, then runs our processes against them:
gunicorn with uvicorn workers (web), Celery worker and beat, `outbox_relay --loop`,
`outbox_consume`. A steady light workload runs throughout: users create important tasks
whose urgency threshold is already past (beat's due-job scan turns each into a trigger,
the consumer builds its preview and records its notification), and read the week, today
and the task list. Each part is then made unreachable in turn — stopped and started
again (PostgreSQL `pg_ctl stop -m fast`, Redis SIGTERM, the broker SIGKILL), or hung with
SIGSTOP/SIGCONT — and the command checks:

- /healthz answers 503 naming the part within 2 s of the outage, and never takes over 2 s;
- API requests during a PostgreSQL outage get 503 service_unavailable JSON (no 500, no HTML);
- during a Redis outage reads are served uncached (200), writes still succeed;
- during a broker outage the API is unaffected;
- when the part is back everything recovers, with the same process ids (no restart), also
  `scan_due_jobs --loop` and `deliver_notifications --loop`;
- at the end nothing is lost or doubled: every due task has exactly one trigger, one
  preview and one notification, every outbox row is consumed, none dead.

Prints a table and exits 1 if a check fails. Everything it starts is stopped and its temp
dir removed at exit. The shared PostgreSQL and Redis of the machine are never touched.
Options: --outage S (seconds each part stays down, default 15), --recovery S (20),
--drain S (the final wait for the pipeline to settle, 240), --only NAME[,NAME] (phases).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import (
    VENV_BIN,
    AppProcess,
    PrivatePostgres,
    PrivateRedis,
    PrivateTansu,
    Workdir,
    app_env,
    free_port,
    loadavg,
    migrate,
    start_apps,
)

HEALTH_LIMIT = 2.0
READS = ("/api/v1/schedule/week/", "/api/v1/schedule/today/", "/api/v1/tasks/?status=todo")


@dataclass
class Sample:
    started: float
    ended: float
    kind: str  # read | write | health
    path: str
    status: int | None  # None: no answer (connection error or timeout)
    json_body: bool
    code: str = ""
    body: dict | None = None


class Recorder:
    def __init__(self):
        self.samples: list[Sample] = []
        self.lock = threading.Lock()

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def between(self, start: float, end: float, kind: str | None = None) -> list[Sample]:
        with self.lock:
            return [s for s in self.samples if start <= s.started < end and (kind is None or s.kind == kind)]


def _call(client: httpx.Client, rec: Recorder, kind: str, method: str, path: str, **kwargs) -> Sample:
    started = time.monotonic()
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError:
        sample = Sample(started, time.monotonic(), kind, path, None, False)
        rec.add(sample)
        return sample
    is_json = response.headers.get("content-type", "").startswith("application/json")
    body = None
    if is_json:
        try:
            body = response.json()
        except ValueError:
            is_json = False
    code = body["error"].get("code", "") if isinstance(body, dict) and isinstance(body.get("error"), dict) else ""
    sample = Sample(started, time.monotonic(), kind, path, response.status_code, is_json, code, body)
    rec.add(sample)
    return sample


class Workload:
    """One thread per user, each creating a due task and reading three views in turn, then
    pausing 0.6 s (~15 req/s in all). The client waits up to 30 s for an answer, and retries a
    create that got 503 or none under the same Idempotency-Key until it sees 201 (kind
    "retry", kept out of the per-phase API checks)."""

    def __init__(self, base: str, rec: Recorder, users: int = 3):
        self.base, self.rec, self.users = base, rec, users
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.created: list[int] = []  # task ids the API answered 201 for
        self.unanswered_writes = 0  # POSTs with no answer: may or may not have committed
        self.retries = 0  # repeats of a create under its Idempotency-Key
        self.resolved_by_retry = 0
        self.abandoned = 0  # creates still unconfirmed when the client gave up
        self.lock = threading.Lock()
        self.tokens: list[str] = []

    def register(self, client: httpx.Client) -> None:
        stamp = int(time.time())
        for i in range(self.users):
            sample = _call(
                client,
                self.rec,
                "write",
                "POST",
                "/api/v1/auth/register/",
                json={"username": f"fi{stamp}u{i}", "password": "a-long-passphrase-9"},
            )
            if sample.status != 201:
                raise RuntimeError(f"register failed: {sample.status} {sample.body}")
            self.tokens.append(sample.body["access"])

    def start(self) -> None:
        for token in self.tokens:
            thread = threading.Thread(target=self.run, args=(token,), daemon=True, name="workload")
            thread.start()
            self.threads.append(thread)

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def run(self, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        pending: list[tuple[str, dict]] = []  # creates with no 201 yet: (Idempotency-Key, body)
        with httpx.Client(base_url=self.base, timeout=30.0) as client:
            n = 0
            while not self.stop.is_set():
                pending = [job for job in pending if not self._create(client, headers, *job, kind="retry")]
                now = datetime.now(UTC)
                job = (
                    f"fi-{token[-16:]}-{n}",
                    {
                        "title": f"due task {token[-8:]} {n}",
                        "priority": 1,
                        "urgency_threshold_at": (now - timedelta(minutes=5)).isoformat(),
                        "deadline_at": (now + timedelta(days=3)).isoformat(),
                        "estimated_sections": 1 + n % 2,
                    },
                )
                if not self._create(client, headers, *job, kind="write"):
                    pending.append(job)
                for path in READS:
                    _call(client, self.rec, "read", "GET", path, headers=headers)
                n += 1
                self.stop.wait(0.6)
            # A client keeps retrying what it never saw created (the key's lock is 60 s).
            give_up = time.monotonic() + 120
            while pending and time.monotonic() < give_up:
                time.sleep(2)
                pending = [job for job in pending if not self._create(client, headers, *job, kind="retry")]
            with self.lock:
                self.abandoned += len(pending)

    def _create(self, client: httpx.Client, headers: dict, key: str, body: dict, *, kind: str) -> bool:
        """POST the task under its Idempotency-Key, as a careful client does; True once created.

        A 503 or no answer may hide a commit that landed, so the retry reuses the key and gets
        the first answer replayed instead of a second task; a 409 means the first attempt's
        key is still locked, so try again later."""
        sample = _call(
            client, self.rec, kind, "POST", "/api/v1/tasks/", headers={**headers, "Idempotency-Key": key}, json=body
        )
        with self.lock:
            if sample.status is None and kind == "write":
                self.unanswered_writes += 1
            if kind == "retry":
                self.retries += 1
            if sample.status == 201:
                self.created.append(sample.body["id"])
                self.resolved_by_retry += kind == "retry"
        return sample.status == 201 or sample.status not in (None, 409, 503)


class HealthWatcher(threading.Thread):
    def __init__(self, base: str, rec: Recorder):
        super().__init__(daemon=True, name="health")
        self.base, self.rec = base, rec
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10.0) as client:
            while not self.stop.is_set():
                _call(client, self.rec, "health", "GET", "/healthz")
                self.stop.wait(0.2)


@dataclass
class Phase:
    name: str
    part: str  # the /healthz check that must go down
    inject: object
    restore: object
    results: list[tuple[str, str, bool | None]] = field(default_factory=list)  # (check, figure, ok)


def _first_health(rec: Recorder, after: float, until: float, want) -> Sample | None:
    """The first /healthz answer given after `after` (by when it answered: a call already in
    flight when the fault began is the one that should notice it) that `want`s."""
    with rec.lock:
        answered = [s for s in rec.samples if s.kind == "health" and after <= s.ended < until]
    for sample in sorted(answered, key=lambda s: s.ended):
        if want(sample):
            return sample
    return None


def _down(part):
    return lambda s: s.status == 503 and isinstance(s.body, dict) and s.body.get("checks", {}).get(part) != "ok"


def _healthy(s):
    return s.status == 200


def _summary(samples: list[Sample]) -> str:
    counts: dict[str, int] = {}
    for s in samples:
        key = "no answer" if s.status is None else f"{s.status}{'' if s.json_body else ' non-JSON'}"
        if s.code:
            key += f" {s.code}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"


def run_phase(phase: Phase, rec: Recorder, apps, args) -> None:
    pids = {name: app.pid for name, app in apps.items()}
    print(f"[{time.strftime('%H:%M:%S')}] {phase.name}: inject", flush=True)
    began = time.monotonic()  # detection counts from here: stopping every backend takes a moment
    phase.inject()
    t0 = time.monotonic()  # the part is unreachable from here (a stop has returned)
    time.sleep(args.outage)
    t1 = time.monotonic()
    phase.restore()
    print(f"[{time.strftime('%H:%M:%S')}] {phase.name}: restored", flush=True)
    time.sleep(args.recovery)
    t2 = time.monotonic()

    down = _first_health(rec, began, t1, _down(phase.part))
    detect = down.ended - began if down else None
    named = down.body["checks"][phase.part] if down else "-"
    phase.results.append(
        (
            "/healthz 503 naming the part",
            f"{detect:.2f} s ({named})" if down else "never",
            bool(down) and detect <= HEALTH_LIMIT,
        )
    )
    health = rec.between(t0, t2, "health")
    slowest = max((s.ended - s.started for s in health), default=0.0)
    phase.results.append(("/healthz answer time, max", f"{slowest:.2f} s", slowest <= HEALTH_LIMIT))

    # Requests that started during the outage (a 1 s margin after restore for in-flight ones).
    during = [s for s in rec.between(t0, t1) if s.kind in ("read", "write")]
    reads = [s for s in during if s.kind == "read"]
    writes = [s for s in during if s.kind == "write"]
    held = max((s.ended - s.started for s in during), default=0.0)
    phase.results.append(("API during outage: slowest answer", f"{held:.2f} s", None))
    if phase.part == "database":
        ok = all(
            s.status is not None
            and s.json_body
            and (s.status < 300 or (s.status == 503 and s.code == "service_unavailable"))
            for s in during
        )
        phase.results.append(("API during outage: 503 service_unavailable JSON", _summary(during), ok and bool(during)))
    else:
        phase.results.append(
            ("reads during outage: 200", _summary(reads), bool(reads) and all(s.status == 200 for s in reads))
        )
        phase.results.append(
            ("writes during outage: 201", _summary(writes), bool(writes) and all(s.status == 201 for s in writes))
        )

    back = _first_health(rec, t1, t2, _healthy)
    phase.results.append(
        ("/healthz 200 again after restore", f"{back.ended - t1:.2f} s" if back else "never", back is not None)
    )
    api_back = next((s for s in sorted(rec.between(t1, t2, "write"), key=lambda s: s.started) if s.status == 201), None)
    phase.results.append(
        (
            "first created task after restore",
            f"{api_back.ended - t1:.2f} s" if api_back else "never",
            api_back is not None,
        )
    )
    tail = [s for s in rec.between(t2 - 5, t2) if s.kind in ("read", "write")]
    phase.results.append(
        (
            "API in the last 5 s of recovery: all 2xx",
            _summary(tail),
            bool(tail) and all(s.status and s.status < 300 for s in tail),
        )
    )
    dead = [name for name, app in apps.items() if not app.alive() or app.pid != pids[name]]
    phase.results.append(
        ("our processes alive, not restarted", ", ".join(dead) + " exited" if dead else f"all {len(apps)}", not dead)
    )
    for name in dead:
        print(f"--- {name} log tail ---\n{apps[name].tail(30)}", flush=True)


def final_accounting(pg: PrivatePostgres, workload: Workload, args) -> list[tuple[str, str, bool]]:
    created = set(workload.created)
    deadline = time.monotonic() + args.drain
    while True:
        row = pg.psql(
            "SELECT (SELECT count(*) FROM scheduling_task),"
            " (SELECT count(*) FROM scheduling_activeschedulepreview WHERE NOT is_dry_run),"
            " (SELECT count(*) FROM outbox_outboxevent WHERE status IN ('pending', 'published'))"
        )
        tasks, previews, live = (int(x) for x in row.split("|"))
        if (previews >= tasks and live == 0) or time.monotonic() > deadline:
            break
        time.sleep(3)
    q = pg.psql
    db_tasks = {int(x) for x in q("SELECT id FROM scheduling_task WHERE priority = 1 AND status = 'todo'").split()}
    results = []
    results.append(
        (
            "tasks in the DB = tasks the API answered 201 for",
            f"{len(db_tasks)} in DB, {len(created)} answered 201, {workload.unanswered_writes} POSTs unanswered",
            db_tasks == created,
        )
    )
    twice = q("SELECT count(*) FROM (SELECT title FROM scheduling_task GROUP BY title HAVING count(*) > 1) d")
    results.append(
        (
            "creates retried under their Idempotency-Key: done once each",
            f"{workload.retries} retries, {workload.resolved_by_retry} creates confirmed by a retry,"
            f" {workload.abandoned} abandoned, {twice} titles twice",
            workload.abandoned == 0 and twice == "0",
        )
    )
    per_task = q(
        "SELECT t.id, count(tr.id) FROM scheduling_task t LEFT JOIN scheduling_activescheduletrigger tr"
        " ON tr.target_id = t.id AND tr.target_type = 'task_pool' AND NOT tr.is_dry_run GROUP BY t.id"
    )
    counts = [int(line.split("|")[1]) for line in per_task.split()]
    results.append(
        (
            "every due task: exactly one trigger",
            f"{sum(c == 1 for c in counts)} of {len(counts)} (0: {counts.count(0)}, >1: {sum(c > 1 for c in counts)})",
            bool(counts) and all(c == 1 for c in counts),
        )
    )
    per_trigger = q(
        "SELECT tr.id, count(p.id) FROM scheduling_activescheduletrigger tr LEFT JOIN"
        " scheduling_activeschedulepreview p ON p.trigger_id = tr.id WHERE NOT tr.is_dry_run GROUP BY tr.id"
    )
    pcounts = [int(line.split("|")[1]) for line in per_trigger.split()]
    statuses = q("SELECT status || '=' || count(*) FROM scheduling_activescheduletrigger GROUP BY status").split()
    results.append(
        (
            "every trigger: exactly one preview",
            f"{sum(c == 1 for c in pcounts)} of {len(pcounts)} (triggers {' '.join(statuses)})",
            bool(pcounts) and all(c == 1 for c in pcounts),
        )
    )
    per_preview = q(
        "SELECT p.id, count(n.id) FROM scheduling_activeschedulepreview p LEFT JOIN notifications_notificationrecord n"
        " ON n.preview_id = p.id::text WHERE NOT p.is_dry_run GROUP BY p.id"
    )
    ncounts = [int(line.split("|")[1]) for line in per_preview.split()]
    results.append(
        (
            "every preview: exactly one notification",
            f"{sum(c == 1 for c in ncounts)} of {len(ncounts)}",
            bool(ncounts) and all(c == 1 for c in ncounts),
        )
    )
    outbox = dict(
        line.split("|") for line in q("SELECT status, count(*) FROM outbox_outboxevent GROUP BY status").split()
    )
    by_type = q("SELECT biz_type || '=' || count(*) FROM outbox_outboxevent GROUP BY biz_type ORDER BY 1").split()
    results.append(
        (
            "outbox: every row consumed, none dead",
            " ".join(f"{k}={v}" for k, v in sorted(outbox.items())) + f" ({', '.join(by_type)})",
            set(outbox) == {"consumed"},
        )
    )
    inbox = int(q("SELECT count(*) FROM outbox_inboxrecord"))
    handled = int(
        q(
            "SELECT count(*) FROM outbox_outboxevent"
            " WHERE biz_type IN ('active_schedule.trigger.created', 'notification.requested')"
        )
    )
    results.append(
        ("inbox: one record per consumed event", f"{inbox} records, {handled} handled events", inbox == handled)
    )
    return results


def _verdict(ok: bool | None) -> str:
    return "info" if ok is None else "pass" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=15.0)
    parser.add_argument("--recovery", type=float, default=20.0)
    parser.add_argument("--drain", type=float, default=240.0)
    parser.add_argument("--only", default="", help="comma list of phase names")
    args = parser.parse_args()

    started = time.monotonic()
    workdir = Workdir("sm-failinj-")
    pg = PrivatePostgres(workdir, fsync=False).init()
    redis = PrivateRedis(workdir).start()
    kafka = PrivateTansu(workdir).start()
    env = app_env(
        database_url=pg.url,
        redis_url=redis.url,
        kafka=kafka.bootstrap,
        workdir=workdir,
        # The in-memory broker forgets its log when it restarts: published rows come back
        # through the redelivery rule, shortened from 300 s so the run stays short.
        OUTBOX_REDELIVER_AFTER_SECONDS="20",
        THROTTLE_AUTH_RATE="1000/min",
        THROTTLE_USER_BURST="1000",
        THROTTLE_USER_REFILL_PER_SECOND="100",
    )
    migrate(env)
    port = free_port()
    apps = start_apps(workdir, env, port=port)
    python = str(VENV_BIN / "python")
    # The other documented --loop commands (beat also runs their work): they must outlive outages too.
    apps["scan"] = AppProcess(workdir, "scan", [python, "manage.py", "scan_due_jobs", "--loop", "--interval", "5"], env)
    apps["deliver"] = AppProcess(workdir, "deliver", [python, "manage.py", "deliver_notifications", "--loop"], env)
    base = f"http://127.0.0.1:{port}"
    print(f"parts: {pg.url} {redis.url} kafka {kafka.bootstrap}; web {base}; logs in {workdir.path}", flush=True)

    rec = Recorder()
    workload = Workload(base, rec)
    with httpx.Client(base_url=base, timeout=10.0) as client:
        workload.register(client)
    health = HealthWatcher(base, rec)
    workload.start()
    health.start()
    time.sleep(10)

    def restart(server):
        def go():
            server.stop()
            server.start()

        return go

    phases = [
        Phase("postgres-stop", "database", lambda: pg.stop("fast"), pg.start),
        Phase("postgres-hang", "database", pg.pause, pg.resume),
        Phase("redis-stop", "cache", redis.stop, redis.start),
        Phase("redis-hang", "cache", redis.pause, redis.resume),
        Phase("broker-hang", "kafka", kafka.pause, kafka.resume),
        Phase("broker-crash", "kafka", kafka.kill, kafka.start),
    ]
    if args.only:
        wanted = set(args.only.split(","))
        phases = [p for p in phases if p.name in wanted]
    try:
        for phase in phases:
            run_phase(phase, rec, apps, args)
    finally:
        workload.stop.set()
        workload.join(160)  # a create still unconfirmed is retried for up to 120 s
        health.stop.set()
        health.join(15)
    print(f"[{time.strftime('%H:%M:%S')}] draining (up to {args.drain:.0f} s)", flush=True)
    drain_started = time.monotonic()
    final = final_accounting(pg, workload, args)
    drained = time.monotonic() - drain_started

    failed = 0
    print()
    print("| phase | check | figure | result |\n| --- | --- | --- | --- |")
    for phase in phases:
        for check, figure, ok in phase.results:
            failed += ok is False
            print(f"| {phase.name} | {check} | {figure} | {_verdict(ok)} |")
    for check, figure, ok in final:
        failed += ok is False
        print(f"| end | {check} | {figure} | {_verdict(ok)} |")
    total = rec.between(0, float("inf"))
    print(
        f"\n{len(total)} requests in {time.monotonic() - started:.0f} s; pipeline settled {drained:.0f} s after the "
        f"workload stopped; load average {loadavg()}; "
        f"{failed} check(s) failed"
    )
    if failed:
        for name, app in apps.items():
            print(f"--- {name} log tail ---\n{app.tail(15)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
