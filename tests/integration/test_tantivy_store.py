"""Index generations on disk: CURRENT switching, pruning, the one-writer lock, markers for
generations that need a rebuild (real tantivy in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tantivy

from indexer.tantivy.config import TantivyConfig
from indexer.tantivy.errors import TantivyError, WriterLocked
from indexer.tantivy.store import INCOMPLETE, GenerationStore, LiveGenerations, open_writer


def test_first_open_creates_an_empty_live_generation(tmp_path: Path) -> None:
    store = GenerationStore(tmp_path, "product", ("EUR",))
    assert store.current() is None and store.open_current(create=False) is None
    opened = store.open_current()
    assert opened is not None and opened[0] == "gen-1"
    assert (tmp_path / "product" / "CURRENT").read_text() == "gen-1\n"
    assert store.is_incomplete("gen-1") and not store.is_outdated(opened[1])
    again = store.open_current()
    assert again is not None and again[0] == "gen-1"


def test_switch_and_prune_keep_the_previous_generation(tmp_path: Path) -> None:
    store = GenerationStore(tmp_path, "content")
    names = [store.create_generation()[0] for _ in range(3)]
    assert names == ["gen-1", "gen-2", "gen-3"] and store.current() is None
    store.switch("gen-1")
    assert store.prune() == []
    store.switch("gen-3")
    assert not store.is_incomplete("gen-3")
    building = store.create_generation()[0]  # a rebuild in progress: newer than the live one
    assert store.prune() == ["gen-1"]
    assert store.generations() == ["gen-2", "gen-3", building]
    assert not list((tmp_path / "content").glob("CURRENT.tmp*"))
    with pytest.raises(TantivyError):
        store.remove("gen-3")  # the live one
    with pytest.raises(TantivyError):
        store.switch("gen-9")
    with pytest.raises(TantivyError):
        store.path("../etc")


def test_a_second_writer_on_a_directory_fails_with_a_typed_error(tmp_path: Path) -> None:
    store = GenerationStore(tmp_path, "product")
    opened = store.open_current()
    assert opened is not None
    name, index = opened
    writer = open_writer(index, store.path(name), 32)
    other = store.open_generation(name)  # another handle, as another process would have
    with pytest.raises(WriterLocked) as err:
        open_writer(other, store.path(name), 32)
    assert str(store.path(name)) in err.value.message and err.value.path
    del writer


def test_a_generation_built_with_another_schema_is_detected(tmp_path: Path) -> None:
    old = GenerationStore(tmp_path, "product", ("EUR",))
    opened = old.open_current()
    assert opened is not None
    newer = GenerationStore(tmp_path, "product", ("EUR", "USD"))
    index = newer.open_generation("gen-1")
    assert newer.is_outdated(index) and not old.is_outdated(index)
    assert isinstance(index, tantivy.Index)


def test_unfinished_generations_no_writer_holds_are_removed(tmp_path: Path) -> None:
    store = GenerationStore(tmp_path, "product", ("EUR",))
    assert store.remove_unfinished() == []
    store.create_generation()  # killed before CURRENT named a first generation
    assert store.remove_unfinished() == ["gen-1"] and store.generations() == []
    old, _ = store.create_generation()
    live, _ = store.create_generation()
    store.switch(live)
    dead, _ = store.create_generation()  # a rebuild whose process died
    building, index = store.create_generation()  # a rebuild still writing
    writer = open_writer(index, store.path(building), 15)
    (store.directory / "gen-9").mkdir()  # killed before the index was created
    assert store.remove_unfinished() == [dead, "gen-9"]
    assert store.generations() == [old, live, building]
    del writer


def test_a_live_generation_with_an_older_schema_is_marked_for_rebuild(tmp_path: Path) -> None:
    """A schema change (a field added or dropped) rebuilds the live index by itself."""
    for doc_type in ("product", "content"):
        opened = GenerationStore(tmp_path, doc_type, ("EUR",)).open_current()
        assert opened is not None
        (tmp_path / doc_type / opened[0] / INCOMPLETE).unlink()  # a finished old build
    live = LiveGenerations(TantivyConfig(index_dir=str(tmp_path), writer_heap_mb=32,
                                         currencies=("EUR", "USD")))
    live.open()
    assert live.needs_rebuild == {"product"}  # content has no price fields: same schema
