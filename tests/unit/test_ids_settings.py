from __future__ import annotations

import uuid

import pytest
from ulid import ULID

from core_write.errors import InvalidId, ValidationFailed
from core_write.ids import new_id, new_ids, parse_id
from core_write.settings import Settings, SettingsError, load_settings


def test_new_ids_are_time_ordered_uuids() -> None:
    ids = [new_id() for _ in range(50)]
    assert all(isinstance(i, uuid.UUID) for i in ids)
    assert len(set(ids)) == 50
    stamps = [ULID.from_uuid(i).milliseconds for i in ids]
    assert stamps == sorted(stamps)


def test_new_ids_in_bulk_are_ulids_like_new_id() -> None:
    before = ULID.from_uuid(new_id()).timestamp
    ids = new_ids(1000)
    after = ULID.from_uuid(new_id()).timestamp
    assert len(set(ids)) == 1000 and new_ids(0) == []
    for value in ids[:3]:
        assert isinstance(value, uuid.UUID)
        assert uuid.UUID(str(value)) == value and hash(uuid.UUID(str(value))) == hash(value)
        assert parse_id(str(ULID.from_uuid(value))) == value
        assert before <= ULID.from_uuid(value).timestamp <= after


def test_parse_id_accepts_ulid_uuid_text_and_uuid() -> None:
    ulid = ULID()
    assert parse_id(str(ulid)) == ulid.to_uuid()
    assert parse_id(str(ulid.to_uuid())) == ulid.to_uuid()
    assert parse_id(ulid.to_uuid()) == ulid.to_uuid()
    assert parse_id(f"  {ulid}  ") == ulid.to_uuid()


@pytest.mark.parametrize("bad", ["", "nope", "8" * 26 + "!", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ", 42,
                                 None, "123e4567-e89b-12d3-a456-42661417400"])
def test_parse_id_rejects_anything_else_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidId) as info:
        parse_id(bad, "product_id")
    assert info.value.field == "product_id"
    assert isinstance(info.value, ValidationFailed)


def test_settings_defaults_and_derived_names() -> None:
    settings = Settings()
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/rustok"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.stream == "rustok:events"
    assert settings.key("relay:epoch") == "rustok:relay:epoch"


def test_settings_report_every_bad_variable_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://db")
    monkeypatch.setenv("REDIS_URL", "http://cache")
    monkeypatch.setenv("RELAY_BATCH_SIZE", "zero")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    for name in ("DATABASE_URL", "REDIS_URL", "RELAY_BATCH_SIZE"):
        assert name in message


def test_settings_read_a_dotenv_file(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / ".env").write_text("RUSTOK_STREAM_PREFIX=fromfile\nRUSTOK_CONSUMER_GROUPS=a, b\n")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("RUSTOK_STREAM_PREFIX", raising=False)
    settings = load_settings()
    assert settings.stream_prefix == "fromfile"
    assert settings.consumer_groups == ("a", "b")


def test_settings_compose_one_part_per_process() -> None:
    from core_write import process_settings as parts
    from core_write.settings import CoreSettings

    classes = [CoreSettings, parts.RelaySettings, parts.IndexerSettings, parts.TantivySettings,
               parts.MeiliSettings, parts.ApiSettings]
    owned = [name for cls in classes for name in cls.model_fields]
    assert sorted(owned) == sorted(Settings.model_fields)  # each variable has one part
    relay = parts.RelaySettings(RELAY_BATCH_SIZE=7)
    assert relay.relay_batch_size == 7 and not hasattr(relay, "api_port")
    assert Settings(RELAY_BATCH_SIZE=7, API_PORT=1).relay_batch_size == 7
