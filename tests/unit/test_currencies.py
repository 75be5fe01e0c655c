"""The currency rule: every ISO 4217 code, and only those, has price fields in every engine,
and the database's `currencies` table (which prices reference) holds the same list."""

from __future__ import annotations

import re

import pytest

from core_write.currencies import ISO_4217
from core_write.errors import ValidationFailed
from core_write.migrations import MIGRATIONS_DIR
from core_write.settings import Settings, SettingsError, load_settings
from indexer.meili.documents import index_settings
from indexer.tantivy.config import DEFAULT_CURRENCIES, TantivyConfig
from indexer.tantivy.schema import field_specs, price_fields


def test_the_migration_holds_the_same_codes() -> None:
    text = (MIGRATIONS_DIR / "0016_currencies.sql").read_text()
    assert tuple(re.findall(r"\('([A-Z]{3})'\)", text)) == ISO_4217
    assert len(ISO_4217) == len(set(ISO_4217)) > 170


def test_every_engine_has_price_fields_for_every_code() -> None:
    assert DEFAULT_CURRENCIES == ISO_4217 == Settings().tantivy_currencies
    names = {spec.name for spec in field_specs("product", DEFAULT_CURRENCIES)}
    filterable = set(index_settings("product", DEFAULT_CURRENCIES)["filterableAttributes"])
    for code in ISO_4217:
        assert set(price_fields(code)) <= names & filterable


def test_a_code_outside_iso_4217_is_refused_in_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationFailed, match="tantivy.currencies"):
        TantivyConfig(currencies=("EUR", "ZZZ"))
    monkeypatch.setenv("TANTIVY_CURRENCIES", "EUR,ZZZ")
    with pytest.raises(SettingsError, match="ZZZ"):
        load_settings()
