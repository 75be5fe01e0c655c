"""User text as the Postgres query compiler matches it: the text CTE `tq` (the words, their
synonyms, typo budgets and prefix, expanded by `rustok_text_query`) and the `WITH` that names
it (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.model import DocType
from indexer.model.relevance import TextRules
from indexer.model.text import FIRST_LETTER_TYPO_COST, prefix_word, query_words
from search_api.pg_tables import Params
from search_api.scope import SearchScope

_TENANT_CFG = ("COALESCE((SELECT c.oid::regconfig FROM tenants t JOIN pg_ts_config c "
               "ON c.cfgname = t.settings->>'language' WHERE t.id = {tenant}), "
               "'simple'::regconfig)")


@dataclass(frozen=True)
class TextQuery:
    """The user text of a query as PostgreSQL matches it: the CTE `tq` (one row of
    `rustok_text_query`, migrations/0019_search_words.sql: the tsqueries of the words, typo
    and prefix expansions included) and what the score needs to know about the words."""

    cte: str
    budgets: tuple[int, ...]
    prefix: bool


def text_query(doc_type: DocType, q: str | None, scope: SearchScope,
               p: Params) -> TextQuery | None:
    """The text CTE of user text `q` (None without text). The words are `query_words` split at
    underscores (PostgreSQL's parser splits there too); their typo budgets and whether the
    last one is a prefix follow `indexer.model.text`."""
    if not q:
        return None
    rules = scope.text_rules
    words, alternatives = _positions(query_words(q), rules)
    budgets = tuple(rules.typo_budget(word) for word in words)
    typed_last = query_words(q)[-1:] or [""]
    prefix = bool(words) and prefix_word(q) is not None and words[-1] != "" and \
        not (rules.stop_words and typed_last[0] in rules.stop_words)
    tenant = p.add(scope.tenant_id)
    cte = (f"tq AS MATERIALIZED (SELECT * FROM rustok_text_query({tenant}, "
           f"'{doc_type}', {_TENANT_CFG.format(tenant=tenant)}, "
           f"{p.add(words)}::text[], {p.add(list(budgets))}::int[], {p.add(prefix)}, "
           f"{FIRST_LETTER_TYPO_COST}, {p.add(alternatives)}::text[]))")
    return TextQuery(cte, budgets, prefix)


def _pg_words(word: str) -> list[str]:
    """A query word as PostgreSQL's parser splits it (at underscores)."""
    return [part for part in word.split("_") if part]


def _positions(typed: list[str], rules: TextRules) -> tuple[list[str], list[str | None]]:
    """The words `rustok_text_query` matches and, per word, the tsquery text of its
    synonyms (`{w}` where the weights go; None: none) under the tenant's text rules: stop
    words out; a typed single word keeps its typos and prefix beside its alternatives; a
    position whose typed form has several words is an empty word standing for all its
    alternatives (the typed phrase among them)."""
    if rules.plain:
        plain = [part for word in typed for part in _pg_words(word)]
        return plain, [None] * len(plain)

    def phrase(alternative: tuple[str, ...]) -> str:
        parts = [part for word in alternative for part in _pg_words(word)]
        return "(" + " & ".join(f"{part}{{w}}" for part in parts) + ")"

    words: list[str] = []
    alternatives: list[str | None] = []
    for position in rules.positions(typed):
        typed_form, others = position[0], position[1:]
        parts = [part for word in typed_form for part in _pg_words(word)]
        if not others:
            words += parts
            alternatives += [None] * len(parts)
        elif len(parts) == 1:
            words.append(parts[0])
            alternatives.append(" | ".join(phrase(alt) for alt in others))
        else:
            words.append("")
            alternatives.append(" | ".join(phrase(alt) for alt in position))
    return words, alternatives


def with_ctes(text: TextQuery | None, *ctes: str) -> str:
    """`WITH ...` naming the text CTE (if any) and `ctes`, or nothing."""
    names = ([text.cte] if text is not None else []) + list(ctes)
    return f"WITH {', '.join(names)} " if names else ""


TQ = "(SELECT {} FROM tq)"
"""A field of the text CTE as a scalar subquery: evaluated once per statement (an InitPlan),
a constant tsquery the planner can look up in the GIN index."""
