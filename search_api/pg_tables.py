"""The index tables the Postgres query compiler reads (`index_products` / `index_content`)
and the statement it builds: positional parameters and the compiled SQL (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.model import SPECS, DocType
from search_api.model import SearchQuery


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    columns: str
    """The columns a hit document is built from (`indexer.model.docs`)."""
    highlight: tuple[str, ...]
    facet_columns: str
    """The columns the facet queries read."""

    @classmethod
    def of(cls, doc_type: DocType, facet_columns: str) -> Table:
        spec = SPECS[doc_type]
        return cls(spec.table, spec.key, spec.hit_columns, spec.highlight, facet_columns)


PRODUCTS = Table.of("product",
                    "category_ids, tags, currencies, has_stock, prices, option_values")
CONTENT = Table.of("content", "kind, category_id, tags, author_id")


@dataclass
class Params:
    """Positional parameters collected while compiling."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list[Any]


def table_of(query: SearchQuery) -> Table:
    return PRODUCTS if query.doc_type == "product" else CONTENT
