"""Rank intents for a question: IDF-weighted term overlap blended with rapidfuzz similarity.

Everything that depends only on the knowledge base (normalised phrasings, vocabulary, IDF
weights, the term index as numpy arrays, the learned scorer) is computed once in
`Matcher.__init__`; a question costs one normalisation, a vocabulary look-up for unknown words,
a few numpy calls over the index, the learned scorer, and a rapidfuzz pass over a few hundred
candidate phrasings (not over all of them: the cost of a question then hardly grows with the
knowledge base).

Why a blend: plain WRatio over phrasings rewards the filler every question shares ("asn",
"boleh", "apakah"), so words that decide the topic (foto, jari, like, deklarasi, kpps, uang …)
are weighted by inverse intent frequency, and rapidfuzz adds robustness to word order, typos
and inflections that the term overlap misses.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from bot.classifier import Classifier
from bot.dictionary import indonesian
from bot.knowledge import KnowledgeBase


@dataclass(frozen=True, slots=True)
class MatchWeights:
    """Tunable weights of the scoring blend (calibrated with `main.py eval --calibrate`)."""

    cosine: float = 0.3             # IDF cosine between the question and the best phrasing
    intent_coverage: float = 0.45   # share of the question's weight the intent's words explain
    fuzzy: float = 0.3              # rapidfuzz token-sort similarity with the phrasing
    keyword_bonus: float = 0.08     # added when the question contains one of the intent's keywords
    typo_cutoff: float = 85.0       # rapidfuzz ratio needed to read an unknown word as a known one
    term_candidates: int = 80       # phrasings kept from the distinctive-term pass
    fuzzy_cutoff: float = 30.0      # rapidfuzz similarity below this adds nothing (and is faster)
    common_share: float = 0.25      # terms in more intents than this share do not pick candidates
    classifier: float = 0.8         # weight of the learned scorer's probability (0: lexical only)
    classifier_candidates: int = 8  # intents the learned scorer adds to the lexical candidates


@dataclass(frozen=True, slots=True)
class Scored:
    """An intent with its score (that of its best phrasing and what the intent adds).

    Scores are comparable within one question; a perfect match scores about 1 but may exceed
    it with the keyword bonus, and is not clipped so that ties stay ordered.
    """

    intent: str
    score: float


class Matcher:
    """Fuzzy intent ranking over every phrasing of the knowledge base."""

    def __init__(self, kb: KnowledgeBase, weights: MatchWeights | None = None,
                 model_cache: Path | None = None) -> None:
        """Index `kb`; `model_cache` is a folder where the trained scorer is kept on disk."""
        self.kb = kb
        self.weights = weights or MatchWeights()
        self.normalizer = kb.normalizer
        owners: list[str] = []
        strings: list[str] = []
        term_sets: list[frozenset[str]] = []
        texts: list[str] = []  # the learned scorer's training texts, in the same order
        for intent in kb.intents.values():
            for question in intent.questions:
                terms = self.normalizer.terms(question)
                texts.append(" ".join(terms))
                owners.append(intent.id)
                strings.append(" ".join(sorted(terms)))
                term_sets.append(frozenset(terms))
        self._strings = np.asarray(strings, dtype=object)  # indexed by candidate arrays

        intent_terms: dict[str, set[str]] = defaultdict(set)
        for owner, terms in zip(owners, term_sets, strict=True):
            intent_terms[owner].update(terms)
        document_frequency: dict[str, int] = defaultdict(int)
        for terms in intent_terms.values():
            for term in terms:
                document_frequency[term] += 1
        n = len(intent_terms)
        self._idf = {t: math.log((n + 1) / (df + 0.5)) for t, df in document_frequency.items()}
        self._vocabulary = sorted(self._idf)
        # Terms shared by many intents ("asn", "boleh") do not pick candidates (they would make
        # every phrasing one), but they count in the score of the candidates.
        common_df = max(2, int(self.weights.common_share * n))
        self._common = frozenset(t for t, df in document_frequency.items() if df > common_df)

        # The index as arrays, so that a question is scored with a few numpy calls: per term,
        # the phrasings and the intents that use it and the intents it is a keyword of.
        self._intents = list(intent_terms)
        position = {intent_id: k for k, intent_id in enumerate(self._intents)}
        self._owner = np.asarray([position[o] for o in owners], dtype=np.intp)
        # Common terms per phrasing as a dense table (they are few): their share of a dot product
        # is looked up for the candidates only, so it does not grow with the KB.
        self._common_column = {t: k for k, t in enumerate(sorted(self._common))}
        self._has_common = np.zeros((len(term_sets), len(self._common_column)), dtype=bool)
        phrasings_of_term: dict[str, list[int]] = defaultdict(list)
        for index, terms in enumerate(term_sets):
            for term in terms:
                phrasings_of_term[term].append(index)
                if term in self._common:
                    self._has_common[index, self._common_column[term]] = True
        self._phrasings_of_term = {t: np.asarray(rows, dtype=np.intp)
                                   for t, rows in phrasings_of_term.items()}
        self._inverse_norm = np.asarray(
            [1.0 / (math.sqrt(sum(self._idf[t] ** 2 for t in terms)) or 1.0)
             for terms in term_sets])
        intents_of_term: dict[str, list[int]] = defaultdict(list)
        for k, terms in enumerate(intent_terms.values()):
            for term in terms:
                intents_of_term[term].append(k)
        self._intents_of_term = {t: np.asarray(rows, dtype=np.intp)
                                 for t, rows in intents_of_term.items()}
        self._keywords = {
            i.id: frozenset(self.normalizer.terms(" ".join(i.keywords)))
            for i in kb.intents.values()
        }
        keyword_of: dict[str, list[int]] = defaultdict(list)
        for intent_id, keywords in self._keywords.items():
            if intent_id in position:
                for term in keywords:
                    keyword_of[term].append(position[intent_id])
        self._keyword_of = {t: np.asarray(rows, dtype=np.intp) for t, rows in keyword_of.items()}
        self._corrections: dict[str, str | None] = {}
        self._dictionary = indonesian()
        self.classifier: Classifier | None = None
        if self.weights.classifier > 0 and len(intent_terms) > 1:
            self.classifier = Classifier(texts, owners, cache_dir=model_cache)
            # per intent its scorer column; per scorer column the intent's phrasings
            self._column = np.asarray([self.classifier.position[i] for i in self._intents],
                                      dtype=np.intp)
            self._phrasings_of_column = [np.flatnonzero(self._owner == position[c])
                                         for c in self.classifier.classes]

    # ---------------------------------------------------------------------------------------
    def query_terms(self, text: str) -> list[str]:
        """Normalise a question and read unknown words as the closest known word (typos)."""
        return self.corrected(self.normalizer.terms(text))

    def corrected(self, terms: list[str]) -> list[str]:
        """Normalised terms with unknown words read as the closest known word (typos)."""
        return [self._correct(t) for t in terms]

    def _correct(self, term: str) -> str:
        if term in self._idf or len(term) < 4 or term.isdigit():
            return term
        if term not in self._corrections:
            match = process.extractOne(
                term, self._vocabulary, scorer=fuzz.ratio, processor=None,
                score_cutoff=self.weights.typo_cutoff,
            )
            if len(self._corrections) > 50_000:
                self._corrections.clear()
            self._corrections[term] = (
                match[0] if match and self._dictionary.may_correct(term, match[0]) else None)
        return self._corrections[term] or term

    def has_keyword(self, intent_id: str, terms: list[str]) -> bool:
        """Whether the terms contain one of the intent's keywords (or it has none)."""
        keywords = self._keywords.get(intent_id)
        return not keywords or not keywords.isdisjoint(terms)

    def knows(self, term: str) -> bool:
        """Whether a (normalised) term occurs in the knowledge base's phrasings."""
        return term in self._idf

    def rank(self, text: str, limit: int = 5) -> list[Scored]:
        """Return the best intents for `text`, best first, one entry per intent."""
        return self.rank_terms(self.query_terms(text), limit)

    def rank_terms(self, terms: list[str], limit: int = 5) -> list[Scored]:
        """Rank intents for already normalised question terms (see `query_terms`)."""
        # Words the KB never uses (names, places, unknown slang) say nothing about the intent:
        # they are left out so that they cannot dilute the words that do.
        query = list(dict.fromkeys(t for t in terms if t in self._idf))
        if not query:
            return []
        w = self.weights
        squares = np.asarray([self._idf[t] ** 2 for t in query])
        query_norm = math.sqrt(float(squares.sum())) or 1.0

        # Per phrasing, the IDF dot product with the question's distinctive terms (both weigh a
        # term by its IDF).
        is_common = [t in self._common for t in query]
        distinctive = [k for k, common in enumerate(is_common) if not common]
        if distinctive:
            rows = [self._phrasings_of_term[query[k]] for k in distinctive]
            distinct = np.bincount(np.concatenate(rows), minlength=len(self._owner),
                                   weights=np.repeat(squares[distinctive], [len(r) for r in rows]))
        else:
            distinct = np.zeros(len(self._owner))

        # Candidates, a number that does not grow with the KB: the phrasings sharing the most
        # distinctive weight with the question, and every phrasing of the intents the learned
        # scorer likes best (they find questions in other words).
        candidates = np.flatnonzero(distinct)
        if len(candidates) > w.term_candidates:  # the rest share only a rare word or two
            # by cosine: of phrasings sharing as much, the shorter (closer) ones
            keep = np.argpartition((distinct * self._inverse_norm)[candidates],
                                   -w.term_candidates)
            candidates = candidates[keep[-w.term_candidates:]]
        probabilities = None
        if self.classifier is not None:
            probabilities = self.classifier.probabilities(" ".join(terms))
            extra = min(w.classifier_candidates, len(probabilities))
            liked = np.argpartition(probabilities, -extra)[-extra:]
            candidates = np.concatenate([candidates, *(self._phrasings_of_column[c]
                                                       for c in liked)])
        candidates = np.unique(candidates)
        # Strings hold sorted terms, so plain ratio equals token_sort_ratio without re-sorting
        # every phrasing per question; they are normalised already: processor=None.
        fuzzy = process.cdist([" ".join(sorted(terms))], self._strings[candidates].tolist(),
                              scorer=fuzz.ratio, processor=None, score_cutoff=w.fuzzy_cutoff,
                              dtype=np.float32)[0]
        dot = distinct[candidates]
        common = [k for k, common in enumerate(is_common) if common]
        if common:  # … plus the common terms' share
            columns = [self._common_column[query[k]] for k in common]
            dot = dot + self._has_common[np.ix_(candidates, columns)] @ squares[common]
        score = (w.cosine / query_norm * dot * self._inverse_norm[candidates]
                 + w.fuzzy / 100.0 * fuzzy)

        # Each intent by its best phrasing …
        order = np.lexsort((-score, self._owner[candidates]))
        owner = self._owner[candidates[order]]
        first = np.ones(len(order), dtype=bool)
        first[1:] = owner[1:] != owner[:-1]
        intents, total = owner[first], score[order][first]
        # … plus the share of the question's weight the intent's words explain,
        counts = len(self._intents)
        coverage = np.bincount(np.concatenate([self._intents_of_term[t] for t in query]),
                               weights=np.repeat(squares, [len(self._intents_of_term[t])
                                                           for t in query]), minlength=counts)
        total += w.intent_coverage / (query_norm * query_norm) * coverage[intents]
        # … a keyword bonus (a second keyword adds half a bonus more, so "nomor urut" + "jari"
        # outweighs a lone shared "jari"),
        keyword_rows = [self._keyword_of[t] for t in query if t in self._keyword_of]
        if keyword_rows:
            hits = np.minimum(np.bincount(np.concatenate(keyword_rows), minlength=counts), 2)
            hits = hits[intents]
            total += np.where(hits > 0, w.keyword_bonus * (1 + 0.5 * (hits - 1)), 0.0)
        # … and the learned scorer's probability.
        if probabilities is not None:
            total += w.classifier * probabilities[self._column[intents]]
        top = np.argsort(-total, kind="stable")[:limit]
        return [Scored(self._intents[intents[k]], float(total[k])) for k in top]
