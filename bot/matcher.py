"""Rank intents for a question: IDF-weighted term overlap blended with rapidfuzz similarity.

Everything that depends only on the knowledge base (normalised phrasings, vocabulary, IDF
weights, postings, the learned scorer) is computed once in `Matcher.__init__`; a question costs
one normalisation, a vocabulary look-up for unknown words, a postings walk, the learned scorer,
and a rapidfuzz pass over a few hundred candidate phrasings (not over all of them: the cost of a
question then hardly grows with the knowledge base).

Why a blend: plain WRatio over phrasings rewards the filler every question shares ("asn",
"boleh", "apakah"), so words that decide the topic (foto, jari, like, deklarasi, kpps, uang …)
are weighted by inverse intent frequency, and rapidfuzz adds robustness to word order, typos
and inflections that the term overlap misses.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass
from operator import itemgetter
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
    """An intent with its score and the phrasing (as written in the KB) that scored best.

    Scores are comparable within one question; a perfect match scores about 1 but may exceed
    it with the keyword bonus, and is not clipped so that ties stay ordered.
    """

    intent: str
    score: float
    phrasing: str


class Matcher:
    """Fuzzy intent ranking over every phrasing of the knowledge base."""

    def __init__(self, kb: KnowledgeBase, weights: MatchWeights | None = None,
                 model_cache: Path | None = None) -> None:
        """Index `kb`; `model_cache` is a folder where the trained scorer is kept on disk."""
        self.kb = kb
        self.weights = weights or MatchWeights()
        self.normalizer = kb.normalizer
        owners: list[str] = []
        questions: list[str] = []
        strings: list[str] = []
        term_sets: list[frozenset[str]] = []
        texts: list[str] = []  # the learned scorer's training texts, in the same order
        for intent in kb.intents.values():
            for question in intent.questions:
                terms = self.normalizer.terms(question)
                texts.append(" ".join(terms))
                owners.append(intent.id)
                questions.append(question)
                strings.append(" ".join(sorted(terms)))
                term_sets.append(frozenset(terms))
        self._owners = owners
        self._questions = questions
        self._strings = strings

        intent_terms: dict[str, set[str]] = defaultdict(set)
        for owner, terms in zip(owners, term_sets, strict=True):
            intent_terms[owner].update(terms)
        document_frequency: dict[str, int] = defaultdict(int)
        for terms in intent_terms.values():
            for term in terms:
                document_frequency[term] += 1
        self._vocab_of = {owner: frozenset(terms) for owner, terms in intent_terms.items()}
        self._phrasings_of: dict[str, list[int]] = defaultdict(list)
        for index, owner in enumerate(owners):
            self._phrasings_of[owner].append(index)
        n = len(intent_terms)
        self._idf = {t: math.log((n + 1) / (df + 0.5)) for t, df in document_frequency.items()}
        self._vocabulary = sorted(self._idf)

        # Postings only for distinctive terms: terms shared by many intents ("asn", "boleh")
        # would make every phrasing a candidate; their (small) share is added per candidate.
        common_df = max(2, int(self.weights.common_share * n))
        self._common = frozenset(t for t, df in document_frequency.items() if df > common_df)
        self._common_terms = [terms & self._common for terms in term_sets]
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._norms: list[float] = []
        for index, terms in enumerate(term_sets):
            weights = {t: self._idf[t] for t in terms}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            self._norms.append(norm)
            for term, weight in weights.items():
                if term not in self._common:
                    self._postings[term].append((index, weight))
        self._keywords = {
            i.id: frozenset(self.normalizer.terms(" ".join(i.keywords)))
            for i in kb.intents.values()
        }
        self._corrections: dict[str, str | None] = {}
        self._dictionary = indonesian()
        self.classifier: Classifier | None = None
        if self.weights.classifier > 0 and len(intent_terms) > 1:
            self.classifier = Classifier(texts, owners, cache_dir=model_cache)

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
        terms = [t for t in terms if t in self._idf]
        if not terms:
            return []
        w = self.weights
        query_weights = {t: self._idf[t] for t in set(terms)}
        query_norm = math.sqrt(sum(v * v for v in query_weights.values())) or 1.0

        # Candidates, a number that does not grow with the KB: the phrasings sharing the most
        # distinctive weight with the question, and every phrasing of the intents the learned
        # scorer likes best (they find questions in other words).
        dots: dict[int, float] = defaultdict(float)
        for term, q_weight in query_weights.items():
            for index, p_weight in self._postings.get(term, ()):
                dots[index] += q_weight * p_weight
        if len(dots) > w.term_candidates:  # the rest share only a rare word or two: skip them
            dots = dict(heapq.nlargest(w.term_candidates, dots.items(), key=itemgetter(1)))
        candidates = set(dots)
        probabilities = None
        if self.classifier is not None:
            probabilities = self.classifier.probabilities(" ".join(terms))
            extra = min(w.classifier_candidates, len(probabilities))
            for position in np.argpartition(probabilities, -extra)[-extra:]:
                candidates.update(self._phrasings_of[self.classifier.classes[position]])
        indices = list(candidates)
        # Strings hold sorted terms, so plain ratio equals token_sort_ratio without re-sorting
        # every phrasing per question; they are normalised already: processor=None.
        fuzzy = process.cdist([" ".join(sorted(terms))], [self._strings[i] for i in indices],
                              scorer=fuzz.ratio, processor=None, score_cutoff=w.fuzzy_cutoff,
                              dtype=np.float32)[0]

        squares = {t: q * q for t, q in query_weights.items()}
        common = {t: sq for t, sq in squares.items() if t in self._common}
        common_set = common.keys()
        best: dict[str, tuple[float, int]] = {}
        # Hot loop (a few hundred candidates per question): attributes bound to locals.
        norms, owners, common_terms = self._norms, self._owners, self._common_terms
        cosine_scale, fuzzy_scale = w.cosine / query_norm, w.fuzzy / 100.0
        for index, similarity in zip(indices, fuzzy.tolist(), strict=True):
            dot = dots.get(index, 0.0)
            if common:
                for term in common_set & common_terms[index]:
                    dot += common[term]
            score = cosine_scale * dot / norms[index] + fuzzy_scale * similarity
            owner = owners[index]
            previous = best.get(owner)
            if previous is None or score > previous[0]:
                best[owner] = (score, index)

        coverage_scale = w.intent_coverage / (query_norm * query_norm)
        query_set = squares.keys()
        scored = []
        for owner, (score, index) in best.items():
            # The share of the question's weight that the intent's words explain.
            score += coverage_scale * sum(squares[t] for t in query_set & self._vocab_of[owner])
            # A second keyword of the intent in the question adds half a bonus more, so
            # "nomor urut" + "jari" outweighs a lone shared "jari".
            hits = len(self._keywords[owner] & query_set)
            if hits:
                score += w.keyword_bonus * (1 + 0.5 * (min(hits, 2) - 1))
            if probabilities is not None:
                score += w.classifier * float(probabilities[self.classifier.position[owner]])
            scored.append((score, owner, index))
        scored.sort(reverse=True)
        return [Scored(owner, score, self._questions[index])
                for score, owner, index in scored[:limit]]
