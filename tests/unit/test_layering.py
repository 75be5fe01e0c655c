"""The packages depend one way only: `core_write` ← `indexer` ← `search_api`, and the entry
layer `rustok_search` on all of them. Checked on the imports every module's source holds
(read with `ast`, so imports inside functions count too; nothing is imported here)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED: dict[str, frozenset[str]] = {
    "core_write": frozenset({"core_write"}),
    "indexer": frozenset({"core_write", "indexer"}),
    "search_api": frozenset({"core_write", "indexer", "search_api"}),
    "rustok_search": frozenset({"core_write", "indexer", "search_api", "rustok_search"}),
}


def imported_packages(source: str, module: str) -> set[tuple[int, str]]:
    """(line, top-level package) of every import of one of our packages in `source`;
    relative imports resolve against `module` (dotted name of the file)."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside the importing package
                names = [module.split(".")[0]]
            else:
                names = [node.module or ""]
        else:
            continue
        found |= {(node.lineno, name.split(".")[0]) for name in names
                  if name.split(".")[0] in ALLOWED}
    return found


def violations(package: str) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for line, imported in sorted(imported_packages(path.read_text(), module)):
            if imported not in ALLOWED[package]:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_depend_one_way(package: str) -> None:
    assert (ROOT / package / "__init__.py").exists()
    assert violations(package) == []


def test_the_check_sees_a_backward_import() -> None:
    source = ("import os\nfrom indexer.model import DocType\n"
              "def f() -> None:\n    from search_api.backends import tantivy\n"
              "import rustok_search.cli as cli\nfrom . import sibling\n")
    assert imported_packages(source, "indexer.meili.documents") == {
        (2, "indexer"), (4, "search_api"), (5, "rustok_search"), (6, "indexer")}
