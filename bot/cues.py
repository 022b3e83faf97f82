"""Cue phrases: short KB-defined phrases found in a question (scope, question types, conditions).

A cue is matched on the question's stemmed words with filler kept ("kena apa" needs "apa",
which matching drops), so `Normalizer.words` is used on both sides. A phrase matches when its
words occur in order, at most `MAX_GAP` other words apart: "ngajak warga milih" matches the cue
"ajak pilih", while "apa saya kena sanksi" does not match "kena apa". Given the question's chat
forms read as stems (`Normalizer.chat_words`), a cue matches those too ("ikut teriakin" has the
cue "ikut teriak"), while a cue written as a chat form matches only that form ("kampanyein":
campaigning for someone).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence

from bot.normalize import Normalizer

MAX_GAP = 2  # words allowed between two words of a cue, and before it for a negation
RULE_SPAN = 5  # words after a rule statement ("yang dilarang …") that it covers
_FIRST_PERSON = frozenset({"saya", "aku"})  # as the normaliser writes them ("sy", "gw" -> saya)
# where a quoted rule ends and the asker goes on: "yg dilarang cuma posting, sy jadi relawan"
_RULE_ENDS = _FIRST_PERSON | {"kalau", "tapi", "padahal"}


class Cues:
    """A set of cue phrases compiled for one normaliser.

    With `negations`, a phrase right after a negation ("tanpa ngajak milih", "tidak dianggap
    kampanye": at most `MAX_GAP` words before it) does not count, unless the negation is part of
    one of `not_negations` there ("jangan lupa coblos nomor 1", "boleh gak sy posting …"); a
    phrase that opens with a negation does not match where that negation asks ("boleh gak
    posting …" is no "tidak posting"). A phrase that opens with "saya" right after one of
    `possessors` is someone else's act: "ayah saya share poster" is no "saya share". A phrase
    starting at most `RULE_SPAN` words after one of `rule_statements` (and before the asker goes
    on: "saya", "kalau", "tapi") is the rule the asker quotes, not their act: "yg gak boleh cuma
    jadi timses, jadi sy boleh dateng?" says nothing about being on a campaign team.
    """

    def __init__(self, phrases: Iterable[str], normalizer: Normalizer,
                 negations: Iterable[str] = (), not_negations: Iterable[str] = (),
                 possessors: Iterable[str] = (), rule_statements: Iterable[str] = ()) -> None:
        self._normalizer = normalizer
        self._possessors = frozenset(w for p in possessors for w in normalizer.words(p))
        self._negations = frozenset(w for n in negations for w in normalizer.words(n))
        self._not_negations = [tuple(normalizer.words(p)) for p in not_negations]
        self._rule_statements = [tuple(normalizer.words(p)) for p in rule_statements]
        self.phrases = self._compiled(phrases)

    def with_phrases(self, phrases: Iterable[str]) -> Cues:
        """Other phrases read with this set's negations, possessors and rule statements
        (normalised once for the many condition cue sets, not once per set)."""
        other = copy.copy(self)
        other.phrases = self._compiled(phrases)
        return other

    def _compiled(self, phrases: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
        compiled = []
        for phrase in phrases:
            words = tuple(self._normalizer.words(phrase))
            if words:
                compiled.append((phrase, words))
        return compiled

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def first(self, words: Sequence[str], chat: Sequence[str] | None = None) -> str | None:
        """The first phrase (in definition order) found in `words` (or in `chat`, the same
        words with their chat forms read as stems), or None."""
        return next(self._found(words, chat), None)

    def found(self, words: Sequence[str], chat: Sequence[str] | None = None) -> set[str]:
        """Every phrase found in `words` (or in `chat`, see `first`)."""
        return set(self._found(words, chat))

    def _found(self, words: Sequence[str], chat: Sequence[str] | None) -> Iterator[str]:
        present = set(words)
        in_chat = set(chat) if chat else set()
        for phrase, cue in self.phrases:
            if (present.issuperset(cue) and self._in_order(cue, words)) or (
                    chat and in_chat.issuperset(cue) and self._in_order(cue, chat)):
                yield phrase

    def _in_order(self, cue: tuple[str, ...], words: Sequence[str]) -> bool:
        """Whether `cue` occurs in order, at most MAX_GAP words apart, and not negated."""
        for start, word in enumerate(words):
            if word == cue[0] and self._follows(cue, words, start) \
                    and not self._negated(words, start) \
                    and not (word in self._negations
                             and self._not_negation_at(words, start, opening=False)) \
                    and not (start and cue[0] in _FIRST_PERSON
                             and words[start - 1] in self._possessors) \
                    and not self._in_rule_statement(words, start):
                return True
        return False

    def _in_rule_statement(self, words: Sequence[str], start: int) -> bool:
        """Whether `words[start]` is at most RULE_SPAN words after a rule statement, with no
        word in between where the asker goes on about themselves ("saya", "kalau", "tapi")."""
        for phrase in self._rule_statements:
            size = len(phrase)
            for end in range(max(size, start - RULE_SPAN + 1), start + 1):
                if tuple(words[end - size : end]) == phrase \
                        and _RULE_ENDS.isdisjoint(words[end : start + 1]):
                    return True
        return False

    def _follows(self, cue: tuple[str, ...], words: Sequence[str], start: int) -> bool:
        """Whether the rest of `cue` follows `words[start]`, each at most MAX_GAP words on, with
        no negation in a gap ("ajak warga nyoblos tanpa sebut calon" is no "ajak coblos
        calon")."""
        position, matched = start, 1
        while matched < len(cue):
            window = words[position + 1 : position + 2 + MAX_GAP]
            if cue[matched] not in window:
                return False
            step = window.index(cue[matched])
            if any(w in self._negations and not self._not_negation_at(words, position + 1 + k)
                   for k, w in enumerate(window[:step])):
                return False
            position += 1 + step
            matched += 1
        return True

    def _negated(self, words: Sequence[str], start: int) -> bool:
        """Whether a negation stands at most MAX_GAP words before `words[start]` (and is not
        part of a not-negation there: "boleh gak sy posting …" asks, it does not negate)."""
        for at in range(max(0, start - MAX_GAP), start):
            if words[at] in self._negations and not self._not_negation_at(words, at):
                return True
        return False

    def _not_negation_at(self, words: Sequence[str], at: int, opening: bool = True) -> bool:
        """Whether `words[at]` is part of a not-negation there; with `opening` False, only of
        one it does not open ("boleh gak …" asks, while "jangan pilih …" still steers votes)."""
        for phrase in self._not_negations:
            for offset, word in enumerate(phrase):
                if offset == 0 and not opening:
                    continue
                begin = at - offset
                if word == words[at] and begin >= 0 and \
                        tuple(words[begin : begin + len(phrase)]) == phrase:
                    return True
        return False

