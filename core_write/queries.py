"""Loads named SQL sections (`-- name: foo --` followed by a one-line description) from the
`.sql` files of a package's `sql/` folder into a dict, once at import (pure apart from reading
the files that ship with the package)."""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(r"^-- name: ([a-z_][a-z0-9_]*) --\s*$", re.MULTILINE)


def parse_sections(text: str, source: str = "<sql>") -> dict[str, str]:
    """Split SQL text into {name: statement}; duplicate or empty sections are errors."""
    found: dict[str, str] = {}
    matches = list(_SECTION.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end():end].strip()
        name = match.group(1)
        if name in found:
            raise ValueError(f"{source}: query {name!r} is defined twice")
        if not body:
            raise ValueError(f"{source}: query {name!r} is empty")
        found[name] = body
    return found


def load_queries(folder: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        for name, body in parse_sections(path.read_text(), str(path)).items():
            if name in queries:
                raise ValueError(f"{path}: query {name!r} is defined in two files")
            queries[name] = body
    return queries


QUERIES = load_queries(Path(__file__).parent / "sql")
