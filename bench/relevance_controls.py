"""Relevance controls for `bench search --controls`: 100 synonym groups and 20 active
merchandising rules for one tenant (each pins 2 products and hides 1; every fourth also boosts
one tag and buries another), drawn from the demo vocabulary so that the query mixes meet them
(I/O: PostgreSQL through `search_api.relevance_store`)."""

from __future__ import annotations

import uuid

import asyncpg

from indexer.model.relevance import SearchSettings
from rustok_search.demo_data import ADJECTIVES, MATERIALS, NOUNS, TAGS
from search_api import relevance_store as store
from search_api.auth import lookup_key
from search_api.rules import RuleSpec

SYNONYM_GROUPS = 100
RULES = 20


def synonym_groups(count: int = SYNONYM_GROUPS) -> list[list[str]]:
    """Pairs of neighbouring demo words (nouns first: every query of the mixes has one)."""
    words = list(dict.fromkeys(w.lower() for w in (*NOUNS, *MATERIALS, *ADJECTIVES)))
    pairs = [[words[i], words[i + 1]] for i in range(0, len(words) - 1, 2)]
    pairs += [[words[i], words[i + 1]] for i in range(1, len(words) - 1, 2)]
    return pairs[:count]


async def install(pool: asyncpg.Pool, key: str) -> uuid.UUID:
    """Give the tenant of search key `key` the synonyms and rules; returns the tenant."""
    found = await lookup_key(pool, key)
    assert found is not None and found.tenant_id is not None, "not a search key"
    tenant = found.tenant_id
    await store.replace_settings(pool, tenant, SearchSettings.model_validate(
        {"synonyms": {"groups": synonym_groups()}}), "bench")
    for rule in (await store.load(pool, tenant)).rules:
        await store.delete_rule(pool, tenant, rule.id, "bench")
    ids = [r["product_id"] for r in await pool.fetch(
        "SELECT product_id FROM index_products WHERE tenant_id = $1 AND status = 'published' "
        "ORDER BY product_id LIMIT $2", tenant, 3 * RULES)]
    for n in range(RULES):
        pins = ids[3 * n:3 * n + 2]
        consequences: dict[str, object] = {
            "pin": [{"id": str(p), "position": i + 1} for i, p in enumerate(pins)],
            "hide": [str(p) for p in ids[3 * n + 2:3 * n + 3]]}
        if n % 4 == 3:
            consequences["boost"] = {"tags": [TAGS[n % len(TAGS)]]}
            consequences["bury"] = {"tags": [TAGS[(n + 1) % len(TAGS)]]}
        spec = RuleSpec.model_validate({
            "condition": {"contains": NOUNS[n % len(NOUNS)].lower()},
            "consequences": consequences})
        await store.create_rule(pool, tenant, spec, "bench")
    return tenant
