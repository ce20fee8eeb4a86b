"""Every citation of the design, domain and style documents in the code resolves in docs/.

The code cites "DOMAIN.md §2.4", "DESIGN.md §4 promise 5", "STYLE.md habit 9", "§8 item 1",
bare "promise 7" and "habit 6". Those documents are docs/DOMAIN.md, docs/DESIGN.md and
docs/STYLE.md in this repository; a citation must name an existing heading ("§2.4" → a
"### 2.4" heading) or numbered item ("promise 5" → item 5 of DESIGN.md § 4, "habit 9" → item 9
of STYLE.md's Habits, "§8 item 1" → item 1 under DOMAIN.md § 8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CITED_DOCS = ("DOMAIN", "DESIGN", "STYLE")
SCANNED_SUFFIXES = {".py", ".yaml", ".yml", ".html", ".md", ".txt", ".toml", ".cfg", ".ini", ""}
SKIPPED_DIRS = {".git", ".data", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache"}
SKIPPED_DIR_PREFIXES = (".venv",)

# A mention of a document: "DOMAIN.md", or "DOMAIN"/"DESIGN"/"STYLE" directly before a citation
# ("DESIGN §5", "STYLE habit 2") — never the identifiers STYLE or STATE_STYLE on their own.
MENTION = re.compile(r"\b(DOMAIN|DESIGN|STYLE)(?:\.md\b|(?=\s*(?:§|habits?\s+\d|promises?\s+\d)))")
SECTION = re.compile(r"§\s*(\d+(?:\.\d+)*)(?:\s+items?\s+(\d+(?:\s*(?:,|and|&)\s*\d+)*))?")
HABIT = re.compile(r"\bhabits?\s+(\d+(?:\s*(?:,|and|&)\s*\d+)*)")
PROMISE = re.compile(r"\bpromises?\s+(\d+(?:\s*(?:,|and|&)\s*\d+)*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
ITEM = re.compile(r"^(\d+)\.\s")


@dataclass(frozen=True)
class Citation:
    where: str  # path:line
    doc: str  # DOMAIN | DESIGN | STYLE
    section: str  # "2.4", "4", or "Habits"
    item: int | None = None

    def __str__(self) -> str:
        item = f" item {self.item}" if self.item is not None else ""
        return f"{self.where}: {self.doc}.md §{self.section}{item}"


def _numbers(group: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", group)]


def citations_in_line(where: str, line: str) -> list[Citation]:
    """Each citation on one line, attributed to the document last mentioned before it on that
    line; a bare "§x" cites DOMAIN.md, a bare "promise N" DESIGN.md, a bare "habit N" STYLE.md."""
    mentions = [(m.start(), m.group(1)) for m in MENTION.finditer(line)]

    def doc_at(pos: int, default: str) -> str:
        before = [doc for start, doc in mentions if start < pos]
        return before[-1] if before else default

    found: list[Citation] = []
    for m in SECTION.finditer(line):
        doc = doc_at(m.start(), "DOMAIN")
        items = _numbers(m.group(2)) if m.group(2) else [None]
        found += [Citation(where, doc, m.group(1), item) for item in items]
    for m in HABIT.finditer(line):
        found += [Citation(where, "STYLE", "Habits", n) for n in _numbers(m.group(1))]
    for m in PROMISE.finditer(line):
        found += [Citation(where, "DESIGN", "4", n) for n in _numbers(m.group(1))]
    return found


def _scanned_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(p in SKIPPED_DIRS or p.startswith(SKIPPED_DIR_PREFIXES) for p in rel.parts[:-1]):
            continue
        if not path.is_file() or path.suffix not in SCANNED_SUFFIXES:
            continue
        if rel.parts[0] == "docs" and path.stem in CITED_DOCS:
            continue  # the documents themselves
        if path == Path(__file__).resolve():
            continue  # this file's examples cite sections on purpose
        files.append(path)
    return files


def all_citations() -> list[Citation]:
    found = []
    for path in _scanned_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if not any(marker in text for marker in ("§", "habit", "promise")):
            continue
        rel = path.relative_to(ROOT)
        for number, line in enumerate(text.splitlines(), start=1):
            found += citations_in_line(f"{rel}:{number}", line)
    return found


def outline(text: str) -> dict[str, set[int]]:
    """Section key → numbered items directly under it. Keys are heading numbers ("1", "2.4")
    and, for unnumbered headings, the heading text ("Habits")."""
    sections: dict[str, set[int]] = {}
    current: str | None = None
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        heading = HEADING.match(line)
        if heading:
            title = heading.group(2)
            number = re.match(r"(\d+(?:\.\d+)*)\.?(?:\s|$)", title)
            current = number.group(1) if number else title
            sections.setdefault(current, set())
            continue
        item = ITEM.match(line)
        if item and current is not None:
            sections[current].add(int(item.group(1)))
    return sections


def resolves(citation: Citation, outlines: dict[str, dict[str, set[int]]]) -> bool:
    sections = outlines[citation.doc]
    if citation.section not in sections:
        return False
    return citation.item is None or citation.item in sections[citation.section]


@pytest.fixture(scope="module")
def outlines() -> dict[str, dict[str, set[int]]]:
    return {doc: outline((DOCS / f"{doc}.md").read_text(encoding="utf-8")) for doc in CITED_DOCS}


@pytest.mark.parametrize("doc", CITED_DOCS)
def test_each_cited_document_is_in_the_repository_and_says_where_it_comes_from(doc):
    # given the repository copy of a cited document
    text = (DOCS / f"{doc}.md").read_text(encoding="utf-8")
    # then its first line names the shared original and says this copy is the one cited
    first = text.splitlines()[0]
    assert f"/work/shared/{doc}.md" in first
    assert "is the one the code cites" in text.split("\n\n", 1)[0]


def test_every_citation_in_the_code_resolves_to_a_section_of_docs(outlines):
    # given every citation of DOMAIN.md / DESIGN.md / STYLE.md in code, data and docs
    citations = all_citations()
    # then there are many (the scan works), and each names an existing heading or item
    assert len(citations) > 200
    unresolved = [str(c) for c in citations if not resolves(c, outlines)]
    assert not unresolved, "citations with no such section in docs/:\n" + "\n".join(unresolved)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# DOMAIN.md §2.4 REMS", [("DOMAIN", "2.4", None)]),
        ("(DOMAIN.md §7.1, §8 item 6)", [("DOMAIN", "7.1", None), ("DOMAIN", "8", 6)]),
        (
            "DESIGN.md §4 promises 5 and 9",
            [("DESIGN", "4", None), ("DESIGN", "4", 5), ("DESIGN", "4", 9)],
        ),
        ("(STYLE.md habit 11; DESIGN.md promise 7)", [("STYLE", "Habits", 11), ("DESIGN", "4", 7)]),
        ("x = 1  # §5.3 weekly PHQ-9", [("DOMAIN", "5.3", None)]),
        ("DESIGN §5 runtime", [("DESIGN", "5", None)]),
        ("STYLE: Mapping[str, str] = {}  # README § Configuration", []),
    ],
)
def test_citations_are_read_from_a_line(line, expected):
    found = [(c.doc, c.section, c.item) for c in citations_in_line("f:1", line)]
    assert found == expected


def test_an_unknown_section_or_item_does_not_resolve(outlines):
    # given citations of a heading and of items that do not exist
    missing = [
        Citation("f:1", "DOMAIN", "8.1"),
        Citation("f:1", "DOMAIN", "8", 99),
        Citation("f:1", "DESIGN", "4", 10),
        Citation("f:1", "STYLE", "Habits", 16),
    ]
    # then none resolves, while their neighbours do
    assert not any(resolves(c, outlines) for c in missing)
    assert resolves(Citation("f:1", "DOMAIN", "8", 1), outlines)
    assert resolves(Citation("f:1", "STYLE", "Habits", 15), outlines)
