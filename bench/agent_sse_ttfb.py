"""Agent SSE time to first byte (docs/BENCHMARKS.md): `.venv/bin/python bench/agent_sse_ttfb.py`.

Runs tests/agent/test_sse_live.py::test_p50_time_to_first_byte_offline: uvicorn serves
the ASGI app on a free loopback port (test database from DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/sm_agent), an httpx streaming client sends 15
sequential chat turns with `Accept: text/event-stream` to the offline provider and
times the first byte of each stream. Prints the p50.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    env = {**os.environ}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_agent")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/agent/test_sse_live.py::test_p50_time_to_first_byte_offline",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if "time to first byte" in line]
    print("\n".join(lines) if lines else result.stdout[-2000:])
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
