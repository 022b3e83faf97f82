"""Measure answer quality: labelled questions, k-fold over the KB's own phrasings, calibration."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from bot.dialogue import Dialogue, Policy
from bot.knowledge import KnowledgeBase, normalizer_for
from bot.matcher import Matcher, Scored
from bot.models import Reply, ReplyKind, Verdict

OUT_OF_SCOPE = "luar"
_LABELS = {v.value for v in Verdict} | {OUT_OF_SCOPE}


class LabelError(ValueError):
    """A labelled-question file has problems (all of them are listed)."""


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled question (format of ../shared/dev-questions.yaml)."""

    q: str
    verdict: str
    topic: str = ""
    must: tuple[str, ...] = ()


def load_labelled(path: Path) -> list[Labelled]:
    """Read labelled questions; report every malformed item with its position and field."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise LabelError(f"{path}: expected a list of items")
    items, errors = [], []
    for n, raw in enumerate(data, start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("q"), str):
            errors.append(f"{path}: item {n}: q: missing or not text")
            continue
        if raw.get("verdict") not in _LABELS:
            errors.append(f"{path}: item {n}: verdict: must be one of {sorted(_LABELS)}")
            continue
        must = raw.get("must") or []
        if not isinstance(must, list):
            errors.append(f"{path}: item {n}: must: must be a list")
            continue
        items.append(Labelled(raw["q"], raw["verdict"], str(raw.get("topic", "")),
                              tuple(str(m).lower() for m in must)))
    if errors:
        raise LabelError("\n".join(errors))
    return items


@dataclass(slots=True)
class Outcome:
    """How one labelled question was answered."""

    item: Labelled
    reply: Reply

    @property
    def in_scope(self) -> bool:
        return self.item.verdict != OUT_OF_SCOPE

    @property
    def verdict_right(self) -> bool:
        given = self.reply.verdict.value if self.reply.verdict else None
        return given == self.item.verdict if self.in_scope else given is None

    @property
    def keywords_present(self) -> bool:
        text = self.reply.text.lower()
        return all(m in text for m in self.item.must)

    @property
    def correct(self) -> bool:
        return self.verdict_right and self.keywords_present

    @property
    def harmful(self) -> bool:
        return self.item.verdict == Verdict.DILARANG and self.reply.verdict is Verdict.BOLEH


@dataclass(slots=True)
class EvalReport:
    """Aggregate figures over a labelled set."""

    outcomes: list[Outcome] = field(default_factory=list)

    def _in(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.in_scope]

    def _out(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.in_scope]

    @staticmethod
    def _pct(part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else 100.0

    @property
    def correct_pct(self) -> float:
        return self._pct(sum(o.correct for o in self._in()), len(self._in()))

    @property
    def verdict_pct(self) -> float:
        return self._pct(sum(o.verdict_right for o in self._in()), len(self._in()))

    @property
    def clarify_pct(self) -> float:
        return self._pct(sum(o.reply.kind is ReplyKind.CLARIFY for o in self._in()),
                         len(self._in()))

    @property
    def fallback_pct(self) -> float:
        return self._pct(sum(o.reply.kind is ReplyKind.FALLBACK for o in self._in()),
                         len(self._in()))

    @property
    def wrong_verdicts(self) -> int:
        return sum(o.reply.verdict is not None and not o.verdict_right for o in self._in())

    @property
    def harmful(self) -> int:
        return sum(o.harmful for o in self.outcomes)

    @property
    def rejected_pct(self) -> float:
        return self._pct(sum(o.verdict_right for o in self._out()), len(self._out()))

    def misses(self) -> list[Outcome]:
        """Items not fully correct (in scope) or not rejected (out of scope)."""
        return [o for o in self.outcomes if not (o.correct if o.in_scope else o.verdict_right)]

    def summary_lines(self) -> list[str]:
        n_in, n_out = len(self._in()), len(self._out())
        return [
            f"items: {len(self.outcomes)} ({n_in} in scope, {n_out} out of scope)",
            f"correct (verdict + must keywords): {self.correct_pct:.1f}%   "
            f"right verdict: {self.verdict_pct:.1f}%",
            f"clarify: {self.clarify_pct:.1f}%   fallback on in-scope: {self.fallback_pct:.1f}%",
            f"wrong verdicts: {self.wrong_verdicts}   harmful (boleh for dilarang): {self.harmful}",
            f"out-of-scope rejected: {self.rejected_pct:.1f}%",
        ]


def evaluate(dialogue: Dialogue, items: Iterable[Labelled]) -> EvalReport:
    """Answer every labelled question (no conversation context) and collect the outcomes."""
    return EvalReport([Outcome(item, dialogue.answer(item.q)) for item in items])


def format_miss(outcome: Outcome) -> str:
    """One line describing a miss."""
    reply = outcome.reply
    got = reply.verdict.value if reply.verdict else reply.kind.value
    detail = reply.intent or ",".join(c.intent for c in reply.alternatives) or "-"
    missing = [m for m in outcome.item.must if m not in reply.text.lower()]
    extra = f" missing {missing}" if missing and outcome.verdict_right else ""
    return (f"  [{outcome.item.verdict} -> {got} {detail} {reply.confidence:.2f}]{extra} "
            f"{outcome.item.q}")


# -- k-fold over the knowledge base's own phrasings -------------------------------------------
@dataclass(slots=True)
class KFoldReport:
    """Top-1 accuracy of held-out phrasings and the most confused intent pairs."""

    total: int = 0
    top1: int = 0
    same_verdict: int = 0
    clarified: int = 0
    harmful: int = 0
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)

    def lines(self, most: int = 10) -> list[str]:
        def pct(n: int) -> str:
            return f"{100.0 * n / max(self.total, 1):.1f}%"

        out = [f"k-fold over KB phrasings: {self.total} held out, top-1 intent {pct(self.top1)}, "
               f"reply with the right verdict {pct(self.same_verdict)}, "
               f"clarify {pct(self.clarified)}, harmful (boleh for dilarang) {self.harmful}"]
        if self.confusions:
            out.append("most confused (true -> predicted):")
            out += [f"  {n:3d}  {a} -> {b}" for (a, b), n in self.confusions.most_common(most)]
        return out


def kfold(kb: KnowledgeBase, k: int = 5, seed: int = 7,
          policy: Policy | None = None) -> KFoldReport:
    """Hold out each fold of phrasings, index the rest, and answer the held-out ones."""
    pairs = [(i.id, q) for i in kb.intents.values() for q in i.questions]
    random.Random(seed).shuffle(pairs)
    report = KFoldReport()
    for fold in range(k):
        held = set(range(fold, len(pairs), k))
        keep: dict[str, list[str]] = {i: [] for i in kb.intents}
        for n, (intent_id, q) in enumerate(pairs):
            if n not in held:
                keep[intent_id].append(q)
        intents = {iid: replace(i, questions=tuple(keep[iid]) or i.questions[:1])
                   for iid, i in kb.intents.items()}
        # The stemmer's vocabulary comes from the kept phrasings only: no held-out leak.
        fold_kb = replace(kb, intents=intents,
                          normalizer=normalizer_for(kb.lexicon, intents.values()))
        dialogue = Dialogue(fold_kb, Matcher(fold_kb), policy)
        for n in held:
            truth, q = pairs[n]
            terms = dialogue.matcher.query_terms(q)
            ranked = dialogue.matcher.rank_terms(terms)
            predicted = ranked[0].intent if ranked else "-"
            reply = (dialogue.decide(ranked, bare=len(set(terms)) == 1) if ranked
                     else dialogue.fallback())
            expected = kb.intents[truth].verdict
            report.total += 1
            report.top1 += predicted == truth
            if predicted != truth:
                report.confusions[(truth, predicted)] += 1
            report.same_verdict += reply.verdict == expected
            report.clarified += reply.kind is ReplyKind.CLARIFY
            report.harmful += expected is Verdict.DILARANG and reply.verdict is Verdict.BOLEH
    return report


# -- calibration --------------------------------------------------------------------------
def calibrate(dialogue: Dialogue, items: Sequence[Labelled]) -> list[tuple[Policy, EvalReport]]:
    """Sweep the decision thresholds on cached rankings; best first (0 harmful, then score)."""
    terms = [dialogue.matcher.query_terms(i.q) for i in items]
    ranked: list[list[Scored]] = [dialogue.matcher.rank_terms(t) for t in terms]
    results = []
    for answer in (0.40, 0.44, 0.48, 0.52, 0.56, 0.60):
        for clarify in (0.28, 0.32, 0.36, 0.40):
            if clarify > answer:
                continue
            for margin in (0.0, 0.02, 0.04, 0.06):
                policy = replace(dialogue.policy, answer_threshold=answer,
                                 clarify_threshold=clarify, margin=margin)
                trial = Dialogue(dialogue.kb, dialogue.matcher, policy)
                report = EvalReport([
                    Outcome(i, trial.decide(r, bare=len(set(t)) == 1))
                    for i, r, t in zip(items, ranked, terms, strict=True)])
                results.append((policy, report))
    results.sort(key=lambda pr: (pr[1].harmful, -(pr[1].correct_pct + pr[1].rejected_pct)))
    return results
