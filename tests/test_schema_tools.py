"""CI gates on the served schema with the tools clients use: Redocly's linter (config in
tests/client_ts/redocly.yaml), and TypeScript types from openapi-typescript that a small
openapi-fetch client (tests/client_ts/client.ts) must type-check against under `tsc --strict`.

The npm packages are pinned in tests/client_ts/package-lock.json and installed by `make test`
(target test-tools) into var/npm; without npm these tests skip, and under
SMARTMATE_REQUIRE_SERVICES=1 they fail instead."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "tests" / "client_ts"
TOOLS = ROOT / "var" / "npm"
BIN = TOOLS / "node_modules" / ".bin"
REQUIRE = os.environ.get("SMARTMATE_REQUIRE_SERVICES") == "1"


def _installed() -> bool:
    stamp = TOOLS / ".installed"
    lock = SOURCES / "package-lock.json"
    return stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime and (BIN / "tsc").exists()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, django_db_blocker):
    """The served schema and the client sources in a scratch folder beside the installed tools."""
    if not _installed():
        reason = "the schema tools are not installed (make test-tools; needs npm)"
        if REQUIRE:
            pytest.fail(f"SMARTMATE_REQUIRE_SERVICES=1: {reason}")
        pytest.skip(reason)
    from django.test import Client

    with django_db_blocker.unblock():
        schema = Client().get("/api/schema/?format=json")
    assert schema.status_code == 200
    folder = tmp_path_factory.mktemp("client_ts")
    (folder / "schema.json").write_bytes(schema.content)
    for name in ("client.ts", "tsconfig.json", "redocly.yaml", ".redocly.lint-ignore.yaml"):
        shutil.copy(SOURCES / name, folder / name)
    (folder / "node_modules").symlink_to(TOOLS / "node_modules")
    return folder


def _run(folder, *command):
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"},
    )
    return result.returncode, result.stdout + result.stderr


def test_redocly_lint_passes_with_the_committed_config(workdir):
    code, output = _run(workdir, "redocly", "lint", "schema.json", "--config", "redocly.yaml", "--format", "stylish")
    assert code == 0, output
    assert "warning" not in output.lower().replace("deprecation warning", ""), output


def test_generated_typescript_types_check_a_client_under_strict(workdir):
    code, output = _run(workdir, "openapi-typescript", "schema.json", "--output", "schema.d.ts")
    assert code == 0, output
    code, output = _run(workdir, "tsc", "--strict", "-p", "tsconfig.json")
    assert code == 0, output


def test_the_type_check_fails_when_the_client_breaks_the_contract(workdir):
    """The gate can fail: a call without the required Idempotency-Key does not compile."""
    broken = workdir / "broken"
    broken.mkdir(exist_ok=True)
    source = (workdir / "client.ts").read_text()
    assert 'header: { "Idempotency-Key": `apply-${id}` }' in source
    (broken / "client.ts").write_text(source.replace('header: { "Idempotency-Key": `apply-${id}` }', "header: {}"))
    shutil.copy(workdir / "tsconfig.json", broken / "tsconfig.json")
    (broken / "node_modules").symlink_to(TOOLS / "node_modules")
    code, output = _run(workdir, "openapi-typescript", "schema.json", "--output", "broken/schema.d.ts")
    assert code == 0, output
    code, output = _run(broken, "tsc", "--strict", "-p", "tsconfig.json")
    assert code != 0 and "Idempotency-Key" in output, output
