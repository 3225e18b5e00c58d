"""A reader with only the repository can follow every citation: the code, tests, scripts and docs
cite documents that are in the repository (`docs/`), with section numbers that exist there, and
never the team's notes outside it (docs/decisions/0011-citations-in-the-repository.md). Decision
records are never rewritten, so older ones keep their citations: only their links are checked."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Documents that live beside the repository (the team's shared folder), not in it.
OUTSIDE = re.compile(r"(?<![\w-])(?:ocis-api|clients|security|ecosystem|aesthetics|DESIGN|STYLE)\.md\b"
                     r"|\breference/[\w-]+\.md|\bshared/reference\b")
# `<doc>.md §4`, `<doc>.md §1-§3`, `<doc>.md §13 #24`, `<doc>.md #16`: a citation of a section.
CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)((?:[ ,\n]*(?:§\d+(?:-§\d+)?|#\d+))+)")
# Our own documents named by path: `docs/<name>.md`, `docs/decisions/<nnnn>-<name>.md`.
DOC_PATH = re.compile(r"(?<![\w/.-])docs/(?:decisions/\d{4}-)?[\w.-]+\.md\b")
MD_LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO_ROOT, capture_output=True, check=True).stdout.decode()
    return [REPO_ROOT / name for name in out.split("\0") if name]


def _sources(*, records: bool = True) -> list[Path]:
    """Code, tests, scripts, build and CI files, README and docs (not test data or snapshots);
    the decision records only with `records`."""
    picked = []
    for path in _tracked():
        rel = path.relative_to(REPO_ROOT)
        top = rel.parts[0]
        if not path.is_file() or "__snapshots__" in rel.parts:
            continue
        if not records and rel.parts[:2] == ("docs", "decisions"):
            continue
        if (top in ("ocis_server", "ocis_cli", "ocis_tui", "tests") and path.suffix == ".py") \
                or top == "scripts" or str(rel) in ("Makefile", "pyproject.toml", ".ci/run") \
                or (path.suffix == ".md" and top in ("docs", "README.md")):
            picked.append(path)
    return picked


@cache
def _by_name() -> dict[str, list[Path]]:
    names: dict[str, list[Path]] = {}
    for path in _tracked():
        if path.suffix == ".md":
            names.setdefault(path.name, []).append(path)
    return names


def _resolve(cited: str, source: Path) -> Path | None:
    """The repository document a citation names: a path from the root or the citing file, or a
    bare file name that exists once in the repository."""
    for base in (REPO_ROOT, source.parent):
        candidate = (base / cited).resolve()
        if candidate.is_file() and REPO_ROOT in candidate.parents:
            return candidate
    found = _by_name().get(Path(cited).name, [])
    return found[0] if "/" not in cited and len(found) == 1 else None


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def test_the_scan_covers_the_code_tests_and_docs() -> None:
    names = {str(p.relative_to(REPO_ROOT)) for p in _sources()}
    for expected in ("ocis_server/services/ocdav/propfind.py", "ocis_cli/client/webdav.py",
                     "ocis_tui/sharing.py", "tests/conftest.py", "README.md",
                     "docs/protocol-notes.md", "scripts/install-test-tools.sh", "Makefile"):
        assert expected in names, expected


def test_no_citation_of_a_document_outside_the_repository() -> None:
    found = []
    for path in _sources(records=False):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in OUTSIDE.finditer(text):
            found.append(f"{path.relative_to(REPO_ROOT)}:{_line(text, match.start())}: {match.group(0)}")
    assert not found, "cites a document outside the repository (bring the facts into docs/ or " \
                      "cite the upstream source):\n" + "\n".join(found)


def test_cited_sections_exist() -> None:
    problems = []
    for path in _sources(records=False):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in CITATION.finditer(text):
            where = f"{path.relative_to(REPO_ROOT)}:{_line(text, match.start())}"
            doc = _resolve(match.group(1), path)
            if doc is None:
                problems.append(f"{where}: {match.group(1)} is not in the repository")
                continue
            headings = set(re.findall(r"^#+ §(\d+)\b", doc.read_text(encoding="utf-8"), re.M))
            for number in re.findall(r"§(\d+)", match.group(2)):
                if number not in headings:
                    problems.append(f"{where}: {match.group(1)} has no section §{number}")
    assert not problems, "\n".join(problems)


def test_named_docs_exist() -> None:
    missing = []
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        cited = [m.group(0) for m in DOC_PATH.finditer(text)]
        if path.suffix == ".md":
            cited += [m.group(1) for m in MD_LINK.finditer(text) if "://" not in m.group(1)]
        missing += [f"{path.relative_to(REPO_ROOT)}: {name}" for name in cited
                    if _resolve(name, path) is None]
    assert not missing, "names a document that does not exist:\n" + "\n".join(missing)
