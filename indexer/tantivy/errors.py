"""The Tantivy engine's errors, defined with every other in `core_write.errors` (tantivy's own
exceptions, plain ValueErrors, are translated into them where an index is opened)."""

from core_write.errors import TantivyError, WriterLocked

__all__ = ["TantivyError", "WriterLocked"]
