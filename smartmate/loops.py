"""One skeleton for every long-running command (docs/ARCHITECTURE.md §5).

    start   the start-up checks (`smartmate.health.exit_unless_parts_reachable`): a configured
            part that is down stops the process with one line, before any work;
    signals SIGTERM and SIGINT set a `Stop`: the pass in progress finishes, then the loop
            returns and the previous handlers are put back;
    passes  `one_pass()` again and again; it answers whether more work is waiting (go again
            at once) or not (wait `idle`, or call it when it is a function);
    outages a pass that raises (a database outage, a broker gone) does not end the process:
            the connection is dropped, the loop waits `retry_seconds` and tries again. The
            first failure of a run of failures is reported once, with its error; the same
            error again is logged at DEBUG only; the first good pass after them says so.

`outbox_relay --loop`, `outbox_consume`, `scan_due_jobs --loop` and `deliver_notifications
--loop` all run through here, so they stop, start and survive outages the same way.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from django.db import connection

logger = logging.getLogger("smartmate.loops")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stop:
    """Set by SIGTERM/SIGINT once `install`ed (main thread only); falsy until then."""

    def __init__(self, name: str = "loop"):
        self.name = name
        self.event = threading.Event()
        self._previous: dict = {}

    def install(self) -> Stop:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous.setdefault(sig, signal.signal(sig, self._handle))
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def __enter__(self) -> Stop:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.restore()

    def _handle(self, signum, frame) -> None:
        logger.info("%s: signal %s, stopping after the current pass", self.name, signum)
        self.event.set()

    def set(self) -> None:
        self.event.set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)

    def __bool__(self) -> bool:
        return self.event.is_set()


def mode_arguments(parser, *, once: str, loop: str) -> None:
    """`--once` / `--loop`, one or the other, with what each does in this command."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help=once)
    mode.add_argument("--loop", action="store_true", help=loop)


def start_up_checks(component: str) -> None:
    """Exit 1 with one line per configured part that is down (docs/DOMAIN.md §7)."""
    from smartmate.health import exit_unless_parts_reachable

    exit_unless_parts_reachable(component)


class FailureLog:
    """Reports the first failure of a run once; repeats at DEBUG; the recovery once."""

    def __init__(self, name: str, report: Callable[[str], None] | None, what: str):
        self.name, self.what = name, what
        self.report = report
        self.count = 0
        self.last = None

    def failed(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        self.count += 1
        if text == self.last:
            logger.debug("%s: %s failed again (%d in a row): %s", self.name, self.what, self.count, text)
            return
        self.last = text
        if self.report is None:
            logger.warning("%s: %s failed, retrying: %s", self.name, self.what, text, exc_info=exc)
        else:
            self.report(f"{self.what} failed, retrying: {text}")

    def succeeded(self) -> None:
        if self.count:
            logger.info("%s: %s works again after %d failed attempt(s)", self.name, self.what, self.count)
        self.count, self.last = 0, None


def run_passes(
    one_pass: Callable[[], bool],
    *,
    stop: Stop,
    idle: float | Callable[[], None],
    retry_seconds: float | None = None,
    name: str = "loop",
    what: str = "pass",
    report: Callable[[str], None] | None = None,
    done: Callable[[], bool] | None = None,
) -> None:
    """Run `one_pass` until `stop` (or `done()`, asked after every pass): at once again when it
    answers True, after `idle` otherwise; a pass that raises is reported once per run of failures
    and retried after `retry_seconds` (default: the idle interval)."""
    failures = FailureLog(name, report, what)
    wait_idle = idle if callable(idle) else (lambda: stop.wait(idle))
    retry = retry_seconds if retry_seconds is not None else (idle if not callable(idle) else 2.0)
    while not stop:
        try:
            busy = one_pass()
        except Exception as exc:
            failures.failed(exc)
            connection.close()  # a dropped connection must not poison the next pass
            if done is not None and done():
                return
            stop.wait(retry)
            continue
        failures.succeeded()
        if done is not None and done():
            return
        if not busy and not stop:
            wait_idle()


def run_command_loop(
    component: str,
    one_pass: Callable[[], bool],
    *,
    checks: bool = True,
    started: Callable[[], None] | None = None,
    **options,
) -> None:
    """A long-running command's whole life: start-up checks, signals, `started()` (the command's
    "running" line, once a SIGTERM would be handled), passes, handlers put back."""
    if checks:
        start_up_checks(component)
    with Stop(component) as stop:
        if started is not None:
            started()
        run_passes(one_pass, stop=stop, name=component, **options)
