"""Contract fuzzing, the long run (docs/RELIABILITY.md): `.venv/bin/python bench/fuzz.py [--examples N] [--seed S]`.

Runs tests/test_fuzz.py (schemathesis over every operation of /api/schema/ against a live
server as a real user, positive and negative data) with N examples per operation and mode
instead of CI's 5, randomised unless --seed is given, and prints the figure for
docs/RELIABILITY.md: operations, requests sent, failures (5xx or schema violations).
Needs PostgreSQL (DATABASE_URL, as for the test suite).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per operation and mode (CI: 5)")
    parser.add_argument("--seed", type=int, default=None, help="a fixed seed (default: random, not derandomised)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds for the whole run")
    args = parser.parse_args()

    report = Path(tempfile.mkstemp(prefix="fuzz-", suffix=".json")[1])
    env = {
        **os.environ,
        "FUZZ_EXAMPLES": str(args.examples),
        "FUZZ_REPORT": str(report),
        "FUZZ_TIMEOUT": str(args.timeout),
        "FUZZ_DERANDOMIZE": "0",
    }
    command = [sys.executable, "-m", "pytest", "tests/test_fuzz.py", "-q", "-p", "no:cacheprovider"]
    command += ["-k", "test_every_operation_answers_within_its_schema"]
    if args.seed is not None:
        command.append(f"--hypothesis-seed={args.seed}")
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if not report.exists() or not report.read_text().strip():
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
        return 1
    stats = json.loads(report.read_text())
    report.unlink()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures = [when, args.examples, stats["operations"], stats["requests"], stats["failures"], f"{elapsed:.0f} s"]
    print("| " + " | ".join(str(f) for f in figures) + " |")
    for failure in stats["failed"]:
        print("\n" + failure)
    return 0 if stats["failures"] == 0 and result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
