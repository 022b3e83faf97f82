"""The learned scorer: a TF-IDF + linear classifier over the knowledge base's phrasings.

Trained on the phrasings after the project's own normalisation, so slang, typos and affixes
are already folded. Character n-grams (within word boundaries) make it robust to spelling and
inflection the lexicon does not know; it complements the lexical matcher, which reads
distinctive words well but is thrown by long, chatty messages.

`LinearSVC` reaches the accuracy of logistic regression in k-fold at a fraction of its fitting
time; its one-vs-rest margins become a probability-like distribution through a softmax whose
temperature is part of the settings. Fitting still takes seconds on a large KB, so a trained
model is kept, keyed by a hash of everything it was trained on: in memory (tests, k-fold and a
reload of an unchanged KB reuse it) and, given a folder, on disk as plain arrays (`.npz`, no
pickle), so a restart with an unchanged KB does not train at all. Any edit changes the key.

Scoring one question does not go through `TfidfVectorizer.transform`: the n-grams, the fitted
vocabulary and IDF weights give the row directly, and the margins are a weighted sum of the
coefficient rows of its n-grams (4x faster than the sparse-matrix route, same numbers); as
`char_wb` n-grams are per word, each word's feature columns are looked up once and kept. The
n-grams are `char_wb`'s, computed by `char_ngrams` (checked against scikit-learn's analyzer in
tests/test_answering.py), so that a start-up with a cached model does not import scikit-learn
at all (its import alone costs about a second here); scikit-learn is imported to fit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_MEMORY: dict[str, _Model] = {}
_MEMORY_SIZE = 16
_FORMAT = 1  # bump when the stored model or the features change
_WORD_CACHE_SIZE = 50_000  # words whose feature columns are kept


@dataclass(frozen=True, slots=True)
class ClassifierSettings:
    """Features and regularisation of the learned scorer (chosen by k-fold, see README)."""

    ngram_min: int = 2
    ngram_max: int = 5
    c: float = 0.5            # LinearSVC regularisation
    temperature: float = 6.0  # softmax sharpness over the one-vs-rest margins


@dataclass(frozen=True, slots=True)
class _Model:
    """What scoring needs from a fitted vectorizer and classifier."""

    ngrams: tuple[str, ...]   # feature n-grams, in column order
    idf: np.ndarray           # (features,)
    coef: np.ndarray          # (features, classes)
    intercept: np.ndarray     # (classes,)
    classes: tuple[str, ...]


class Classifier:
    """Intent probabilities for a normalised question."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str],
                 settings: ClassifierSettings | None = None,
                 cache_dir: Path | None = None) -> None:
        self.settings = settings or ClassifierSettings()
        s = self.settings
        key = _key(texts, labels, s)
        model = _MEMORY.get(key) or _load(cache_dir, key)
        self.trained = model is None  # False: reused from memory or from the disk cache
        if model is None:
            model = _fit(texts, labels, s)
            _save(cache_dir, key, model)
        if len(_MEMORY) >= _MEMORY_SIZE:
            _MEMORY.pop(next(iter(_MEMORY)))
        _MEMORY[key] = model
        self.classes = model.classes
        self.position = {c: n for n, c in enumerate(model.classes)}  # class -> column
        self._columns = {g: n for n, g in enumerate(model.ngrams)}
        self._idf, self._coef, self._intercept = model.idf, model.coef, model.intercept
        self._word_columns: dict[str, np.ndarray] = {}

    def probabilities(self, text: str) -> np.ndarray:
        """A distribution over `classes` for one normalised question (sums to 1)."""
        # char_wb n-grams are per word, so a text's are the union of its words' (looked up
        # once per word: questions share most of their words)
        found = [self._columns_of(word) for word in text.lower().split()]
        found = np.concatenate(found) if found else np.empty(0, dtype=np.intp)
        if found.size:  # sublinear tf × idf, l2-normalised, as the vectorizer computes it
            columns, counts = np.unique(found, return_counts=True)
            row = (1.0 + np.log(counts.astype(np.float32))) * self._idf[columns]
            margins = (row / np.linalg.norm(row)) @ self._coef[columns] + self._intercept
        else:
            margins = self._intercept.copy()
        scaled = self.settings.temperature * margins
        scaled -= scaled.max()
        exp = np.exp(scaled)
        return exp / exp.sum()

    def _columns_of(self, word: str) -> np.ndarray:
        """The feature columns of one word's n-grams (with repeats), cached."""
        columns = self._word_columns.get(word)
        if columns is None:
            s, lookup = self.settings, self._columns.get
            found = (lookup(g) for g in char_ngrams(word, s.ngram_min, s.ngram_max))
            columns = np.fromiter((c for c in found if c is not None), dtype=np.intp)
            if len(self._word_columns) > _WORD_CACHE_SIZE:
                self._word_columns.clear()
            self._word_columns[word] = columns
        return columns


def char_ngrams(text: str, low: int, high: int) -> list[str]:
    """scikit-learn's `char_wb` n-grams: per word, padded with one space on each side."""
    out = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:  # a short word counts once, whole
                out.append(padded)
                break
            out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def _key(texts: Sequence[str], labels: Sequence[str], settings: ClassifierSettings) -> str:
    digest = hashlib.sha256(f"{_FORMAT}|{astuple(settings)}".encode())
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"\x00{label}\x01{text}".encode())
    return digest.hexdigest()[:32]


def _fit(texts: Sequence[str], labels: Sequence[str], s: ClassifierSettings) -> _Model:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(s.ngram_min, s.ngram_max),
                                 sublinear_tf=True, dtype=np.float32)
    features = vectorizer.fit_transform(texts)
    model = LinearSVC(C=s.c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, list(labels))
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # a binary model has one margin: the second class's
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    ngrams = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    return _Model(tuple(ngrams), vectorizer.idf_.astype(np.float32),
                  np.ascontiguousarray(coef.T, dtype=np.float32),
                  intercept.astype(np.float32), tuple(str(c) for c in model.classes_))


def _load(cache_dir: Path | None, key: str) -> _Model | None:
    path = cache_dir / f"classifier-{key}.npz" if cache_dir else None
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return _Model(tuple(data["ngrams"].tolist()), data["idf"], data["coef"],
                          data["intercept"], tuple(data["classes"].tolist()))
    except (OSError, ValueError, KeyError) as exc:  # a damaged cache is retrained
        log.warning("ignoring unreadable model cache %s: %s", path, exc)
        return None


def _save(cache_dir: Path | None, key: str, model: _Model) -> None:
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("classifier-*.npz"):  # only the current KB's model is kept
            old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            np.savez(out, ngrams=np.array(model.ngrams), idf=model.idf, coef=model.coef,
                     intercept=model.intercept, classes=np.array(model.classes))
        os.replace(tmp, cache_dir / f"classifier-{key}.npz")
    except OSError as exc:  # no cache is only slower
        log.warning("cannot write the model cache in %s: %s", cache_dir, exc)
