"""The search document, in one place: the document types and where each lives (`doctypes`),
the typed documents a hit carries and how each backend's answer becomes one (`docs`), index
rows as Tantivy and Meilisearch documents (`engines`), and the text and price-field rules
every engine and query compiler shares (`text`). Pure: no I/O; the indexer and the API both
import it."""

from indexer.model.docs import ContentDoc, Document, ProductDoc
from indexer.model.doctypes import BY_SECTION, DOC_TYPES, SPECS, DocType, DocTypeSpec

__all__ = ["BY_SECTION", "DOC_TYPES", "SPECS", "ContentDoc", "DocType", "DocTypeSpec",
           "Document", "ProductDoc"]
