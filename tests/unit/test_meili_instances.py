"""Several Meilisearch instances: reading `MEILISEARCH_INSTANCES` and the keys, and where a new
tenant is placed (pure: no server, no database)."""

from __future__ import annotations

import uuid

import pytest

from core_write.settings import SettingsError, load_settings
from indexer.meili.config import DEFAULT_INSTANCE, MeiliConfig, meili_config
from indexer.meili.placement import Placements, choose
from rustok_search.cli import build_parser

BASE = {"RUSTOK_ENGINES": "tantivy", "RUSTOK_STREAM_PREFIX": "rustok_test:1:ab",
        "MEILISEARCH_URL": "", "MEILISEARCH_INSTANCES": "", "MEILISEARCH_API_KEY": "",
        "MEILISEARCH_API_KEYS": ""}
"""Every Meilisearch variable given: the environment running the tests may set some."""


def test_one_url_is_one_instance_named_default() -> None:
    config = meili_config(load_settings(**{**BASE, "MEILISEARCH_URL": "http://a:7700",
                                           "MEILISEARCH_API_KEY": "k"}))
    assert config.names == (DEFAULT_INSTANCE,)
    assert (config.url, config.api_key) == ("http://a:7700", "k")
    assert config.on(DEFAULT_INSTANCE).url == "http://a:7700"


def test_instances_are_read_in_order_with_a_shared_key_or_their_own() -> None:
    settings = load_settings(**{
        **BASE, "MEILISEARCH_INSTANCES": " east=http://a:7700/ , west=https://b.example/m ",
        "MEILISEARCH_API_KEY": "shared", "MEILISEARCH_API_KEYS": "west=own"})
    assert settings.engines == ("tantivy", "meilisearch")  # configured: fed
    config = meili_config(settings)
    assert config.names == ("east", "west")
    assert (config.on("east").url, config.on("east").api_key) == ("http://a:7700", "shared")
    assert (config.on("west").url, config.on("west").api_key) == ("https://b.example/m", "own")
    assert (config.url, config.api_key) == ("http://a:7700", "shared")  # the first
    assert "own" not in repr(config) and "shared" not in repr(config)
    with pytest.raises(KeyError, match="no Meilisearch instance named 'north'"):
        config.on("north")


def test_a_key_for_the_default_instance() -> None:
    config = meili_config(load_settings(**{
        **BASE, "MEILISEARCH_URL": "http://a:7700", "MEILISEARCH_API_KEY": "x",
        "MEILISEARCH_API_KEYS": "default=mine"}))
    assert config.names == (DEFAULT_INSTANCE,) and config.api_key == "mine"


@pytest.mark.parametrize(("env", "message"), [
    ({"MEILISEARCH_INSTANCES": "east"}, "is not name=value"),
    ({"MEILISEARCH_INSTANCES": "east=ftp://a"}, "instance east: 'ftp://a' is not an http"),
    ({"MEILISEARCH_INSTANCES": "East=http://a"}, "instance name 'East'"),
    ({"MEILISEARCH_INSTANCES": "a=http://x,a=http://y"}, "instance a is named twice"),
    ({"MEILISEARCH_INSTANCES": "a=http://x", "MEILISEARCH_URL": "http://y"}, "not both"),
    ({"MEILISEARCH_INSTANCES": "a=http://x", "MEILISEARCH_API_KEYS": "b=k"},
     "names instances that are not configured: b"),
    ({"SEARCH_BACKEND": "meilisearch"}, "MEILISEARCH_INSTANCES for several servers"),
])
def test_bad_instance_settings_name_the_problem(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(**{**BASE, **env})


def test_a_new_tenant_goes_to_the_instance_with_the_fewest_tenants() -> None:
    names = ("a", "b", "c")
    assert choose(names, {}) == "a"  # all empty: the first configured
    assert choose(names, {"a": 3, "b": 1, "c": 1}) == "b"  # ties: configuration order
    assert choose(names, {"a": 0, "b": 5}) == "a"
    assert choose(names, {"a": 2, "b": 2, "c": 9, "gone": 0}) == "a"  # only configured ones
    with pytest.raises(ValueError, match="no Meilisearch instance"):
        choose((), {})


def test_spreading_new_tenants_fills_a_new_instance_first() -> None:
    counts = {"old": 10, "new": 0}
    for _ in range(10):
        counts[choose(("old", "new"), counts)] += 1
    assert counts == {"old": 10, "new": 10}
    counts[choose(("old", "new"), counts)] += 1
    assert counts == {"old": 11, "new": 10}


async def test_cached_placements_expire_after_the_ttl() -> None:
    class Rows:
        def __init__(self) -> None:
            self.instance = "a"
            self.reads = 0

        async def fetchrow(self, *args: object) -> dict[str, object]:
            self.reads += 1
            return {"tenant_id": args[-1], "instance": self.instance, "state": "placed",
                    "target": None, "move_done": 0, "move_total": 0, "move_error": None}

    now = [0.0]
    rows = Rows()
    config = MeiliConfig(url="http://a", placement_ttl_ms=2000)
    placements = Placements(rows, None, "p", config, clock=lambda: now[0])
    tenant = uuid.uuid4()
    assert (await placements.get(tenant)).instance == "a"  # type: ignore[union-attr]
    rows.instance = "b"
    now[0] = 1.9
    assert (await placements.get(tenant)).instance == "a"  # type: ignore[union-attr]
    now[0] = 2.1
    assert (await placements.get(tenant)).instance == "b"  # type: ignore[union-attr]
    rows.instance = "c"
    placements._forget_text(str(tenant).encode())  # an announced move
    assert (await placements.get(tenant)).instance == "c"  # type: ignore[union-attr]
    assert rows.reads == 3


def test_the_engines_commands_parse() -> None:
    args = build_parser().parse_args(["engines", "move", "--tenant", "shop", "--to", "west"])
    assert (args.tenant, args.to, args.no_wait) == ("shop", "west", False)
    assert build_parser().parse_args(["engines", "list"]).action == "list"
