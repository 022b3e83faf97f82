"""Indonesian words: tells a real word from a typo, so that typo correction leaves words alone.

An unknown word in a question is read as the closest word of the knowledge base ("pilhan" as
"pilihan"). A real Indonesian word the knowledge base happens not to use must not be read that
way: "taman" is not "aman", "seolah" is not "sekolah", "tagar" is not "agar". Sastrawi's root
word list (about 30,000 roots) and stemmer decide what is a real word.
"""

from __future__ import annotations

from functools import cache

from Sastrawi.Stemmer.StemmerFactory import StemmerFactory


class Dictionary:
    """Root words of Indonesian and a stemmer over them."""

    def __init__(self) -> None:
        factory = StemmerFactory()
        self._roots = frozenset(factory.get_words())
        self._stemmer = factory.create_stemmer()  # caches the words it stemmed

    def root(self, word: str) -> str | None:
        """The root of a real Indonesian word ("jaringan" → "jaring"), None for a non-word."""
        if word in self._roots:
            return word
        stem = self._stemmer.stem(word)
        return stem if stem in self._roots else None

    def is_word(self, word: str) -> bool:
        """Whether `word` is a real Indonesian word (a root or an affixed form of one)."""
        return self.root(word) is not None

    def may_correct(self, word: str, candidate: str) -> bool:
        """Whether an unknown `word` may be read as `candidate`: it is no real word, or a form
        of the same root ("pendidik" → "pendidikan")."""
        root = self.root(word)
        return root is None or root == self.root(candidate)


@cache
def indonesian() -> Dictionary:
    """The process-wide dictionary (its word list is read once)."""
    return Dictionary()
