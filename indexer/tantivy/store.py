"""Index directories with generations, and the live generation of each document type with its
writer (I/O: the local filesystem).

Layout: `{index_dir}/{doc_type}/gen-{n}/` holds one complete tantivy index; the file
`{index_dir}/{doc_type}/CURRENT` names the live generation. A rebuild fills `gen-{n+1}` while
`gen-{n}` keeps serving, then replaces CURRENT atomically (tmp file + fsync + os.replace), so a
reader sees either the old or the new generation, never a half-built one. Pruning keeps the
live generation and the one before it (a reader may still be switching away from it) and
deletes older ones. A generation newer than the live one that no writer holds was left by a
rebuild whose process died: `remove_unfinished` deletes it. Blocking: call these from a
thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import tantivy

from core_write.process_settings import DEFAULT_CURRENCIES
from indexer.model import DOC_TYPES, DocType
from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.errors import TantivyError, WriterLocked
from indexer.tantivy.schema import build_schema

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
INCOMPLETE = "INCOMPLETE"
"""Marker file in a generation made live empty (no index yet): it needs a rebuild."""
_GEN_RE = re.compile(r"^gen-(\d+)$")


def generation_number(name: str) -> int:
    match = _GEN_RE.match(name)
    if match is None:
        raise TantivyError(f"not a generation name: {name!r}")
    return int(match.group(1))


class GenerationStore:
    """The generations of one document type's index."""

    def __init__(
        self, index_dir: str | Path, doc_type: DocType,
        currencies: Iterable[str] = DEFAULT_CURRENCIES,
    ) -> None:
        self.doc_type = doc_type
        self.directory = Path(index_dir) / doc_type
        self.schema = build_schema(doc_type, currencies)

    def path(self, name: str) -> Path:
        generation_number(name)
        return self.directory / name

    def current(self) -> str | None:
        """The live generation's name, or None before the first one exists."""
        try:
            name = (self.directory / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        generation_number(name)
        return name

    def generations(self) -> list[str]:
        """Every generation directory, oldest first."""
        if not self.directory.is_dir():
            return []
        names = [entry.name for entry in self.directory.iterdir()
                 if entry.is_dir() and _GEN_RE.match(entry.name)]
        return sorted(names, key=generation_number)

    def create_generation(self) -> tuple[str, tantivy.Index]:
        """A new, empty generation numbered after every existing one (not yet live)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        existing = [generation_number(name) for name in self.generations()]
        name = f"gen-{max(existing, default=0) + 1}"
        path = self.path(name)
        path.mkdir()
        log.info("created %s generation %s", self.doc_type, name,
                 extra={"action": "tantivy_generation", "entity": self.doc_type})
        return name, self._open(path, create=True)

    def open_generation(self, name: str) -> tantivy.Index:
        """An existing generation, whatever schema it was built with (see `is_outdated`)."""
        return self._open(self.path(name), create=False)

    def is_incomplete(self, name: str) -> bool:
        """True for a generation made live empty, until a rebuild replaces it."""
        return (self.path(name) / INCOMPLETE).exists()

    def is_outdated(self, index: tantivy.Index) -> bool:
        """True when `index` was built with another schema than this version's: it still
        serves (unknown fields are ignored when writing) until a rebuild replaces it."""
        return bool(index.schema != self.schema)

    def open_current(self, *, create: bool = True) -> tuple[str, tantivy.Index] | None:
        """The live generation; when there is none yet, a first empty one is created and made
        live (`create=True`, the writer) or None is returned (`create=False`, readers)."""
        name = self.current()
        if name is not None:
            return name, self.open_generation(name)
        if not create:
            return None
        name, index = self.create_generation()
        (self.path(name) / INCOMPLETE).write_text("created empty; rebuild me\n")
        self.switch(name)
        return name, index

    def switch(self, name: str) -> None:
        """Make `name` the live generation, atomically and durably."""
        if not self.path(name).is_dir():
            raise TantivyError(f"generation {name} of {self.doc_type} does not exist")
        tmp = self.directory / f"{CURRENT}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / CURRENT)
        _fsync_dir(self.directory)
        log.info("%s index now serves generation %s", self.doc_type, name,
                 extra={"action": "tantivy_switch", "entity": self.doc_type})

    def prune(self) -> list[str]:
        """Delete generations older than the one before the live one; returns their names.
        Generations newer than the live one (a rebuild in progress) are left alone."""
        live = self.current()
        if live is None:
            return []
        older = [name for name in self.generations()
                 if generation_number(name) < generation_number(live)]
        doomed = older[:-1]
        for name in doomed:
            self.remove(name)
        return doomed

    def remove_unfinished(self) -> list[str]:
        """Delete the generations newer than the live one (all, before there is one) that no
        writer holds: a rebuild's, left by a process that died. Returns their names."""
        live = self.current()
        floor = generation_number(live) if live is not None else 0
        removed = []
        for name in self.generations():
            if generation_number(name) <= floor:
                continue
            try:
                index = self.open_generation(name)
                writer = open_writer(index, self.path(name), heap_mb=15)
            except WriterLocked:
                continue  # a rebuild is writing it
            except TantivyError:
                pass  # killed before the index was even created
            else:
                del writer  # drops tantivy's writer lock before the folder goes
            self.remove(name)
            removed.append(name)
        return removed

    def remove(self, name: str) -> None:
        if name == self.current():
            raise TantivyError(f"refusing to delete the live generation {name}")
        shutil.rmtree(self.path(name), ignore_errors=True)
        log.info("deleted %s generation %s", self.doc_type, name,
                 extra={"action": "tantivy_prune", "entity": self.doc_type})

    def _open(self, path: Path, *, create: bool) -> tantivy.Index:
        try:
            if create:
                return tantivy.Index(self.schema, path=str(path), reuse=False)
            if not tantivy.Index.exists(str(path)):
                raise TantivyError(f"no tantivy index in {path}")
            return tantivy.Index.open(str(path))
        except ValueError as exc:
            raise TantivyError(f"cannot open the index in {path}: {exc}") from exc


def open_writer(index: tantivy.Index, path: str | Path, heap_mb: int,
                threads: int = 1) -> tantivy.IndexWriter:
    """The single writer of an index directory (`threads` indexing threads; `heap_mb` split
    between them); `WriterLocked` when another one holds it."""
    try:
        return index.writer(heap_size=heap_mb * 1_000_000, num_threads=threads)
    except ValueError as exc:
        if "LockBusy" in str(exc):
            raise WriterLocked(str(path)) from None
        raise TantivyError(f"cannot open a writer on {path}: {exc}") from exc


@dataclass
class Generation:
    """A generation opened for writing."""

    name: str
    path: Path
    index: tantivy.Index
    writer: tantivy.IndexWriter


class LiveGenerations:
    """The live generation of every document type, each with its single writer (the
    follower's). Blocking: call these from a thread."""

    def __init__(self, config: TantivyConfig) -> None:
        self.heap_mb = config.writer_heap_mb
        self.threads = config.writer_threads
        self.stores = {dt: GenerationStore(config.index_dir, dt, config.currencies)
                       for dt in DOC_TYPES}
        self.live: dict[DocType, Generation] = {}
        self.needs_rebuild: set[DocType] = set()
        """Doc types whose live generation was just created empty or has an older schema."""

    def open(self) -> None:
        """Take the writer lock of each live generation (creating a first empty generation
        where none exists); raises `WriterLocked` when another writer holds one."""
        for doc_type in DOC_TYPES:
            if doc_type not in self.live:
                store = self.stores[doc_type]
                store.remove_unfinished()  # a rebuild whose process died
                opened = store.open_current(create=True)
                assert opened is not None
                name, index = opened
                fresh = store.is_incomplete(name)
                if fresh or store.is_outdated(index):
                    # an empty first generation, or one built with an older schema: it
                    # serves (and takes the queue) until a rebuild replaces it
                    self.needs_rebuild.add(doc_type)
                    log.warning("the %s index (%s) needs a rebuild (%s)", doc_type, name,
                                "new" if fresh else "older schema",
                                extra={"action": "tantivy_needs_rebuild", "entity": doc_type})
                path = store.path(name)
                self.live[doc_type] = Generation(name, path, index,
                                                 open_writer(index, path, self.heap_mb,
                                                 self.threads))

    def generation(self, doc_type: DocType) -> str | None:
        live = self.live.get(doc_type)
        return live.name if live else None

    def document_counts(self) -> dict[DocType, int]:
        """Documents in each live generation, as of its last commit."""
        out: dict[DocType, int] = {}
        for doc_type, live in list(self.live.items()):
            live.index.reload()
            out[doc_type] = int(live.index.searcher().num_docs)
        return out

    def commit(self, doc_types: Iterable[DocType]) -> None:
        for doc_type in sorted(doc_types):
            self.live[doc_type].writer.commit()

    def rollback(self, doc_types: Iterable[DocType]) -> None:
        for doc_type in doc_types:
            live = self.live.get(doc_type)
            if live is not None:
                live.writer.rollback()

    def create(self, doc_type: DocType) -> Generation:
        """A new, empty generation with its writer (not live yet)."""
        store = self.stores[doc_type]
        name, index = store.create_generation()
        path = store.path(name)
        try:
            return Generation(name, path, index,
                              open_writer(index, path, self.heap_mb, self.threads))
        except BaseException:
            store.remove(name)
            raise

    def go_live(self, doc_type: DocType, new: Generation) -> None:
        """Commit `new`, point CURRENT at it and make its writer the live one (dropping the
        old one releases the old generation's writer lock)."""
        new.writer.commit()
        self.stores[doc_type].switch(new.name)
        self.live[doc_type] = new
        self.needs_rebuild.discard(doc_type)

    def abandon(self, doc_type: DocType, new: Generation) -> None:
        """Drop `new` unless it went live."""
        if self.generation(doc_type) == new.name:
            return
        store = self.stores[doc_type]
        try:
            new.writer.rollback()
        finally:
            if store.current() != new.name:
                store.remove(new.name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
