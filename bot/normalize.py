"""Indonesian text normalisation: case, punctuation, elongation, slang, numbers, light affixes.

The rules are code; the words are data (`knowledge/lexicon.yaml`). Words that decide a verdict
(`protected` in the lexicon: tidak, boleh, jangan, harus, belum, sudah …) are never dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_NON_WORD = re.compile(r"[^0-9a-z]+")
_ELONGATION = re.compile(r"([a-z])\1{2,}")
# "rame2" -> "rame", "dukung2an" -> "dukungan"; not a year: "pilkada2024"
_REDUPLICATION = re.compile(r"([a-z]{2,})2(?![0-9])([a-z]*)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")

# Affixes tried by the vocabulary-aware stemmer, longest first. A stem is accepted only when
# it is a word the knowledge base itself uses, so unknown words are left alone.
_SUFFIXES = ("nya", "lah", "kah", "pun", "kan", "an", "i")
_PREFIXES = (
    ("meng", ("", "k")), ("meny", ("s",)), ("mem", ("p", "")), ("men", ("t", "")), ("me", ("",)),
    ("peng", ("", "k")), ("peny", ("s",)), ("pem", ("p", "")), ("pen", ("t", "")),
    ("ber", ("",)), ("ter", ("",)), ("di", ("",)), ("ke", ("",)), ("ng", ("", "k")),
    ("ny", ("s", "")),
)
# Chat Indonesian drops "me-" before t- and p- words: "nolak" (menolak), "masang" (memasang).
# Tried only on a token that is no Indonesian word itself ("marah" is not "parah").
_COLLOQUIAL = (("n", "t"), ("m", "p"))
# Chat Indonesian also has "-in" for "-kan"/"-i" ("diturunin", "ngebagiin") and "nge-" before a
# stem ("ngeshare"). Read so for matching only: cue phrases keep the form as written, since
# "kampanyein" (campaign for someone) says more than "kampanye".
_CHAT_SUFFIX, _CHAT_PREFIX = "in", "nge"
_VOWELS = frozenset("aeiou")
_MIN_STEM = 3

# Input hygiene before anything else: invisible characters that split words are removed, and
# Cyrillic and Greek letters that look like Latin ones (pasted or spoofed text) become Latin.
# (NFKC already folds full-width and "mathematical" letters.)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061"
                                   "\u2062\u2063\u2064\ufeff"))
_LATIN = re.compile(r"[a-z]")
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ո": "n",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ϲ": "c",
})


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Normalisation data loaded from `knowledge/lexicon.yaml`."""

    replace: Mapping[str, str] = field(default_factory=dict)
    before_number: Mapping[str, str] = field(default_factory=dict)  # "pp 94": a regulation
    phrases: Mapping[str, str] = field(default_factory=dict)
    numbers: Mapping[str, str] = field(default_factory=dict)
    filler: frozenset[str] = frozenset()
    protected: frozenset[str] = frozenset()
    no_stem: frozenset[str] = frozenset()


class Normalizer:
    """Turn raw user text into a list of canonical tokens.

    `tokens()` gives every token (filler included) for display and debugging; `terms()` gives
    the tokens used for matching: filler removed and, once `learn_vocabulary` has run, affixes
    stripped to a form the knowledge base uses.
    """

    def __init__(self, lexicon: Lexicon,
                 is_word: Callable[[str], bool] | None = None) -> None:
        """`is_word`: whether a token is a real Indonesian word (then its colloquial form is
        not guessed); without it colloquial forms are not read."""
        self.lexicon = lexicon
        self._is_word = is_word
        # Phrases indexed by their first word, longest first, so a token costs one dict look-up.
        self._phrases: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        for key, value in sorted(lexicon.phrases.items(), key=lambda kv: -len(kv[0].split())):
            words = tuple(key.split())
            if words:
                self._phrases.setdefault(words[0], []).append((words, tuple(value.split())))
        self._vocabulary: frozenset[str] = frozenset()
        self._stem_cache: dict[str, str] = {}
        self._chat_cache: dict[str, str] = {}
        # the KB's phrasings, tokenised once for the several passes that read them at load
        # (vocabulary, duplicate check, index, partisan settings); users' texts are not kept
        self._kept: dict[str, tuple[str, ...]] = {}

    # -- raw tokens -------------------------------------------------------------------------
    def clean(self, text: str) -> str:
        """Lower-case, fold accents and punctuation, collapse elongations and reduplication."""
        # "#LanjutkanPakBupati" is three words: split where a lower-case letter meets a capital
        text = _CAMEL.sub(" ", unicodedata.normalize("NFKC", text))
        text = text.casefold().translate(_INVISIBLE)
        # Lookalikes only inside words that also have Latin letters (spoofing); a word that is
        # all Cyrillic or Greek stays foreign.
        text = " ".join(w.translate(_LOOKALIKES) if _LATIN.search(w) else w for w in text.split())
        text = "".join(
            ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
        )
        words = []
        for word in _NON_WORD.sub(" ", text).split():
            if word not in self.lexicon.replace:  # lexicon words as written: "pppk", "p3k"
                word = _LETTER_DIGIT.sub(" ", _REDUPLICATION.sub(r"\1\2", _ELONGATION.sub(
                    r"\1", word)))
            words.append(word)
        return " ".join(" ".join(words).split())

    def tokens(self, text: str) -> list[str]:
        """Return canonical tokens: slang replaced, phrases joined, number words as digits."""
        kept = self._kept.get(text)
        return list(kept) if kept is not None else self._tokens(text)

    def keep_tokens(self, texts: Iterable[str]) -> None:
        """Tokenise these texts (the KB's phrasings) once and keep them (tokens depend on the
        lexicon only)."""
        self._kept = {text: tuple(self._tokens(text)) for text in texts}

    def _tokens(self, text: str) -> list[str]:
        out: list[str] = []
        raws = self.clean(text).split()
        for position, raw in enumerate(raws):
            replaced = self.lexicon.replace.get(raw, raw)
            if raw in self.lexicon.before_number and position + 1 < len(raws) \
                    and raws[position + 1].isdigit():
                # "pp 94/2021" cites a regulation; "ganti pp" is a profile photo
                replaced = self.lexicon.before_number[raw]
            for token in replaced.split():
                out.append(self.lexicon.numbers.get(token, token))
        return self._apply_phrases(out)

    def _apply_phrases(self, tokens: list[str]) -> list[str]:
        if not self._phrases:
            return tokens
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for source, target in self._phrases.get(tokens[i], ()):
                if tuple(tokens[i : i + len(source)]) == source:
                    out.extend(target)
                    i += len(source)
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    # -- matching terms ---------------------------------------------------------------------
    def terms(self, text: str) -> list[str]:
        """Return the tokens used for matching (filler dropped, affixes stripped)."""
        return self.terms_and_words(text)[0]

    def words(self, text: str) -> list[str]:
        """Every token, filler included, with affixes stripped (for cue phrases)."""
        return [self.stem(t) for t in self.tokens(text)]

    def terms_and_words(self, text: str) -> tuple[list[str], list[str]]:
        """`terms(text)` and `words(text)` from one pass over the text."""
        filler = self.lexicon.filler
        tokens = self.tokens(text)
        words = [self.stem(t) for t in tokens]
        terms = [c for t, w in zip(tokens, words, strict=True)
                 if t not in filler and (c := self.chat_stem(w)) not in filler]
        return terms, words

    def learn_vocabulary(self, words: Iterable[str]) -> None:
        """Set the words the stemmer may reduce to (the knowledge base's own tokens)."""
        self._vocabulary = frozenset(words)
        self._stem_cache.clear()
        self._chat_cache.clear()

    def stem(self, token: str) -> str:
        """Strip affixes only when the result is a word the knowledge base uses."""
        cached = self._stem_cache.get(token)
        if cached is not None:
            return cached
        result = token
        if (
            self._vocabulary
            and len(token) > _MIN_STEM + 1
            and not token.isdigit()
            and token not in self.lexicon.no_stem
            and token not in self.lexicon.protected
        ):
            candidates = self._candidates(token)
            # a no_stem word reached by stripping is as far as it goes: "pasangannya" is
            # "pasangan" (spouse), not "pasang"; "pemerintahan" is "pemerintah", not "perintah"
            kept = [c for c in candidates if c in self.lexicon.no_stem and c in self._vocabulary]
            known = kept or [c for c in candidates if c in self._vocabulary]
            if known:
                result = min(known, key=len)
        if len(self._stem_cache) < 50_000:
            self._stem_cache[token] = result
        return result

    def chat_words(self, words: Sequence[str]) -> list[str] | None:
        """`words` with their chat forms read as stems (for `Cues`), or None when there is
        none."""
        chat = [self.chat_stem(w) for w in words]
        return None if chat == list(words) else chat

    def chat_stem(self, word: str) -> str:
        """A stemmed chat form read as its stem ("diturunin" -> "turun", "dimasukin" ->
        "masukin" -> "masuk"), when that stem is a word the knowledge base uses."""
        cached = self._chat_cache.get(word)
        if cached is not None:
            return cached
        rest = word
        if rest.endswith(_CHAT_SUFFIX):
            rest = rest[: -len(_CHAT_SUFFIX)]
        if rest.startswith(_CHAT_PREFIX):
            rest = rest[len(_CHAT_PREFIX) :]
        result = word
        if rest != word and len(rest) >= _MIN_STEM and word not in self.lexicon.no_stem:
            stem = self.stem(rest)
            # a filler stem is a word too ("jadiin" -> "jadi"), for cues; matching drops it
            known = stem in self._vocabulary or stem in self.lexicon.filler
            result = stem if known else word
        if len(self._chat_cache) < 50_000:
            self._chat_cache[word] = result
        return result

    def _candidates(self, token: str) -> list[str]:
        bases = [token]
        colloquial = [restore + token[1:] for prefix, restore in _COLLOQUIAL
                      if token.startswith(prefix) and token[1:2] in _VOWELS]
        if colloquial and self._is_word is not None and not self._is_word(token):
            bases += colloquial
        for suffix in _SUFFIXES:
            for base in list(bases):
                if base.endswith(suffix) and len(base) - len(suffix) >= _MIN_STEM:
                    bases.append(base[: -len(suffix)])
        out = list(bases)
        for base in bases:
            for prefix, restores in _PREFIXES:
                if base.startswith(prefix) and len(base) - len(prefix) >= _MIN_STEM - 1:
                    rest = base[len(prefix) :]
                    out.extend(r + rest for r in restores if len(r + rest) >= _MIN_STEM)
        return out[1:]
