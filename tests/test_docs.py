"""The project documents itself (docs/ARCHITECTURE.md, docs/DOMAIN.md): comments cite sections
of those files, every cited section exists, and no comment points outside the repository or
names a module that is gone."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The pattern of the check in docs/ARCHITECTURE.md §6, written so that this file does not match it.
OUTSIDE = "|".join([r"(^|[^/.])DOMAIN" + " §", r"(^|[^/])API\.md", "shared" + "/spec", "seed 00[0-9]", "issue [0-9]+"])


def _grep(pattern: str) -> list[str]:
    found = subprocess.run(
        ["git", "grep", "-nE", pattern, "--", "*.py"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    return found.splitlines()


def _sections(name: str) -> set[str]:
    text = (ROOT / "docs" / name).read_text()
    return set(re.findall(r"^## (\d+)\. ", text, flags=re.MULTILINE))


def test_no_comment_cites_a_document_outside_the_repository():
    assert _grep(OUTSIDE) == []


def test_no_comment_names_the_module_that_is_gone():
    assert _grep(r"smartmate\.preflight") == []


def test_every_cited_section_exists():
    for name in ("DOMAIN.md", "ARCHITECTURE.md"):
        sections = _sections(name)
        cited = {m for line in _grep(rf"docs/{re.escape(name)} §[0-9]+") for m in re.findall(rf"{name} §(\d+)", line)}
        assert cited, name
        assert cited <= sections, f"{name}: cited but missing {sorted(cited - sections)}"


def test_both_files_list_their_sections_near_the_top():
    for name in ("DOMAIN.md", "ARCHITECTURE.md"):
        head = (ROOT / "docs" / name).read_text()[:2000]
        assert "Sections" in head, name
