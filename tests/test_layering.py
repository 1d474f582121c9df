"""Apps import inward only (docs/ARCHITECTURE.md §1): towards accounts and outbox, with no
cycle; `smartmate` is the project and may be imported by everyone."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("accounts", "outbox", "scheduling", "notifications", "agent")
ALLOWED = {
    "outbox": set(),
    "accounts": {"outbox"},
    "scheduling": {"accounts", "outbox"},
    "notifications": {"accounts", "outbox"},
    "agent": {"accounts", "outbox", "scheduling"},
}


def _imports(app: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in APPS and top != app:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_app_imports_only_the_apps_inward_of_it():
    wrong = {
        app: {other: sorted(paths) for other, paths in _imports(app).items() if other not in ALLOWED[app]}
        for app in APPS
    }
    assert {app: bad for app, bad in wrong.items() if bad} == {}


def test_the_allowed_imports_have_no_cycle():
    seen: set[str] = set()

    def visit(app: str, path: tuple[str, ...]) -> None:
        assert app not in path, " → ".join((*path, app))
        for other in ALLOWED[app]:
            visit(other, (*path, app))
        seen.add(app)

    for app in APPS:
        visit(app, ())
    assert seen == set(APPS)
