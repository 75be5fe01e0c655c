"""Tantivy query pieces the API's compiler (`search_api.compile_tantivy`) builds on: user text
by the matching and ranking rules of `indexer.model.text` (`word_query`, `WordScores`), the
query-syntax fallback (`text_query`), and the single function that confines every query to a
tenant (pure: builds query objects, searches nothing).

Tenant isolation does not depend on the user text: whatever the parser makes of it
(`tenant_id:OTHER OR title:x`, `*`, a syntax error), the result is only ever a MUST clause
next to a MUST term on `tenant_id`, so it can narrow a tenant's hits but never widen them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tantivy

from core_write.errors import ValidationFailed
from indexer.model import DocType
from indexer.model.engines import match_term
from indexer.model.relevance import DEFAULT_TEXT_RULES, Alternatives, TextRules
from indexer.model.text import stem_language, stem_words, typo_budget
from indexer.tantivy.schema import MATCH_FIELDS, SEARCH_FIELDS, STEMS, WORDS

EXACT, STEM, PREFIX = 2, 1, 0
"""Exactness of a word's match (ranking rule 4); typo matches count as PREFIX."""
BM25_CEILING = 40.0
"""Above any BM25 score of one word in `WORDS` (idf <= ln(2N+1), ~15 at a million documents,
times k1+1 = 2.2): the engine score divided by it stays below one exactness step."""
AUTOMATON_TIERS = tuple(enumerate(MATCH_FIELDS))
"""(tier, field) of the prefix and typo automata: one per tier field, so a prefix or typo
match knows its field tier too (each builds its DFA and reads the postings of every term it
accepts; the unscored twin, `word_match`, needs only the one over all text)."""


@dataclass(frozen=True)
class WordScores:
    """The score of a word's match by ranking rules 2-4 (typos, field tier, exactness), with
    gaps so that a sum over `words` words orders documents lexicographically by the rules
    (every step of a rule outweighs all later rules of every word together), then by the
    BM25 part (`bm25_scale`, below one exactness step)."""

    words: int

    @property
    def tier_step(self) -> float:
        return 2.0 * self.words + 1

    @property
    def typo_step(self) -> float:
        return self.words * (2 * self.tier_step + 2) + 1

    def score(self, typos: int, tier: int, exactness: int) -> float:
        """`tier`: 0 for the best field tier (title)."""
        return (self.typo_step * (2 - typos) + self.tier_step * (len(MATCH_FIELDS) - 1 - tier)
                + exactness)

    @property
    def bm25_scale(self) -> float:
        return 1.0 / (BM25_CEILING * self.words)

    @property
    def ceiling(self) -> float:
        """Above the score of any document (an identifier match outranks text with more)."""
        return self.words * (self.score(0, 0, EXACT) + 1)


def word_query(schema: tantivy.Schema, word: str, scores: WordScores, *, prefix: bool,
               language: str | None, titles_only: bool = False,
               budget: int | None = None) -> tantivy.Query:
    """The documents one query word matches (rules of `indexer.model.text`), scored by its
    best match (a disjunction max): exact or same stem in a tier's field (term queries), as a
    prefix when it is the last word, or with the typos `typo_budget` allows (Levenshtein
    automata on `AUTOMATON_TIERS`, a transposition one edit; the match fields double each
    word's first letter, so an edit there costs two); plus its BM25 in all text. With
    `titles_only`, the title tier alone (suggestions)."""
    term = match_term(word)
    budget = typo_budget(word) if budget is None else budget
    stem = stem_words([word], language)[0] if stem_language(language) else None
    tiers = MATCH_FIELDS[:1] if titles_only else MATCH_FIELDS
    variants: list[tantivy.Query] = []
    for tier, field in enumerate(tiers):
        variants.append(tantivy.Query.const_score_query(
            tantivy.Query.term_query(schema, field, term), scores.score(0, tier, EXACT)))
        if stem is not None:
            variants.append(tantivy.Query.const_score_query(
                tantivy.Query.term_query(schema, STEMS, f"{tier + 1}{stem}"),
                scores.score(0, tier, STEM)))
    for tier, field in AUTOMATON_TIERS[:1] if titles_only else AUTOMATON_TIERS:
        if prefix:
            variants.append(tantivy.Query.const_score_query(
                tantivy.Query.fuzzy_term_query(schema, field, term, 0, True, True),
                scores.score(0, tier, PREFIX)))
        for typos in range(1, budget + 1):
            variants.append(tantivy.Query.const_score_query(
                tantivy.Query.fuzzy_term_query(schema, field, term, typos, True, False),
                scores.score(typos, tier, PREFIX)))
    best = tantivy.Query.disjunction_max_query(variants)
    bm25 = tantivy.Query.boost_query(tantivy.Query.term_query(
        schema, MATCH_FIELDS[0] if titles_only else WORDS, term), scores.bm25_scale)
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, best),
                                        (tantivy.Occur.Should, bm25)])


def word_match(schema: tantivy.Schema, word: str, *, prefix: bool,
               language: str | None, budget: int | None = None) -> tantivy.Query:
    """The documents `word_query` matches, unscored and with less work (for counts and
    facets): the automaton of the widest typo budget over all text holds the narrower ones
    and the exact word, and every tier's words are in all text."""
    term = match_term(word)
    budget = typo_budget(word) if budget is None else budget
    parts = [tantivy.Query.fuzzy_term_query(schema, WORDS, term, budget, True, False)
             if budget else tantivy.Query.term_query(schema, WORDS, term)]
    if stem_language(language):
        stem = stem_words([word], language)[0]
        parts += [tantivy.Query.term_query(schema, STEMS, f"{tier}{stem}")
                  for tier in range(1, len(MATCH_FIELDS) + 1)]
    if prefix:
        parts.append(tantivy.Query.fuzzy_term_query(schema, WORDS, term, 0, True, True))
    if len(parts) == 1:
        return parts[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, part) for part in parts])


def words_query(schema: tantivy.Schema, words: Sequence[str], *, prefix: bool,
                language: str | None, titles_only: bool = False,
                scored: bool = True, rules: TextRules = DEFAULT_TEXT_RULES) -> tantivy.Query:
    """Every word matched (`word_query`; the last one also as a prefix when `prefix`), the
    document's score the sum of its words' scores; unscored (`word_match`) for counting.
    Under a tenant's `rules`, stop words are left out and a position with synonyms matches
    any of its alternatives (all the words of one, each by the same rules; the typed one
    alone as a prefix), scored by the best."""
    if rules.plain:
        positions: list[Alternatives] = [((word,),) for word in words]
    else:
        positions = rules.positions(words)
    scores = WordScores(sum(max(len(alt) for alt in alts) for alts in positions))

    def one(word: str, last: bool) -> tantivy.Query:
        budget = rules.typo_budget(word)
        if scored or titles_only:
            return word_query(schema, word, scores, language=language, prefix=last,
                              titles_only=titles_only, budget=budget)
        return word_match(schema, word, language=language, prefix=last, budget=budget)

    parts = []
    for n, alternatives in enumerate(positions):
        last_position = prefix and n == len(positions) - 1 and not rules.stop_words & {
            words[-1]}
        options = []
        for k, alternative in enumerate(alternatives):
            matched = [one(word, last_position and k == 0 and i == len(alternative) - 1)
                       for i, word in enumerate(alternative)]
            options.append(matched[0] if len(matched) == 1 else tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, q) for q in matched]))
        either = options[0] if len(options) == 1 else (
            tantivy.Query.disjunction_max_query(options) if scored else
            tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in options]))
        parts.append((tantivy.Occur.Must, either))
    return tantivy.Query.boolean_query(parts)


def tenant_scoped(schema: tantivy.Schema, tenant_id: Any, query: tantivy.Query) -> tantivy.Query:
    """`query` restricted to one tenant: the only way the reader builds a query."""
    tenant = str(tenant_id).strip() if tenant_id is not None else ""
    if not tenant:
        raise ValidationFailed("tenant_id", "required")
    tenant_term = tantivy.Query.const_score_query(
        tantivy.Query.term_query(schema, "tenant_id", tenant), 0.0
    )
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, tenant_term), (tantivy.Occur.Must, query)]
    )


def text_query(index: tantivy.Index, doc_type: DocType, text: str | None) -> tantivy.Query:
    """User text over the doc type's search fields, every word required; syntax errors are
    forgiven (lenient parser); blank text matches everything."""
    if text is None or not text.strip():
        return tantivy.Query.all_query()
    boosts = SEARCH_FIELDS[doc_type]
    query, _errors = index.parse_query_lenient(
        text, default_field_names=list(boosts), field_boosts=boosts,
        conjunction_by_default=True,
    )
    return query
