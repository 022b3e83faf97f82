"""Measure answer quality: labelled questions, k-fold over the KB's own phrasings, calibration."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from bot.dialogue import Dialogue, Policy, Reading
from bot.knowledge import KnowledgeBase, normalizer_for
from bot.matcher import Matcher
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


@dataclass(frozen=True, slots=True)
class HeldOut:
    """One held-out phrasing, read by the dialogue of the fold that did not see it.

    `verdict` is what the KB means for the phrasing: its intent's answer to exactly these
    words, so a phrasing that breaks one of the intent's conditions ("simulasi pakai paslon
    asli") expects the condition's verdict, and a "…, sanksinya apa?" phrasing expects `info`.
    """

    dialogue: Dialogue
    reading: Reading
    truth: str
    verdict: Verdict | None


def kfold_readings(kb: KnowledgeBase, k: int = 5, seed: int = 7,
                   policy: Policy | None = None) -> list[HeldOut]:
    """Hold out each fold of phrasings, index (and train on) the rest, read the held-out ones."""
    pairs = [(i.id, q) for i in kb.intents.values() for q in i.questions]
    random.Random(seed).shuffle(pairs)
    out = []
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
        for n in sorted(held):
            truth, q = pairs[n]
            reading = dialogue.read(q)
            meant = dialogue.reply_for(intents[truth], words=reading.words).verdict
            out.append(HeldOut(dialogue, reading, truth, meant))
    return out


def kfold_report(held_out: Iterable[HeldOut], policy: Policy | None = None) -> KFoldReport:
    """Decide every held-out reading (with `policy`, else each fold's own) and count."""
    report = KFoldReport()
    for h in held_out:
        reply = h.dialogue.decide(h.reading, policy)
        predicted = h.reading.ranked[0].intent if h.reading.ranked else "-"
        report.total += 1
        report.top1 += predicted == h.truth
        if predicted != h.truth:
            report.confusions[(h.truth, predicted)] += 1
        report.same_verdict += reply.verdict == h.verdict
        report.clarified += reply.kind is ReplyKind.CLARIFY
        report.harmful += h.verdict is Verdict.DILARANG and reply.verdict is Verdict.BOLEH
    return report


# -- calibration --------------------------------------------------------------------------
_GRID = {
    "answer_threshold": (0.44, 0.50, 0.56, 0.62),
    "agree_threshold": (0.34, 0.38, 0.42, 0.46),
    "clarify_threshold": (0.30, 0.34, 0.38, 0.42),
    "margin": (0.0, 0.03),
    "unsafe_boleh_margin": (0.18, 0.26, 0.34),
}


@dataclass(frozen=True, slots=True)
class Trial:
    """One policy of the sweep with its figures on every labelled set and in k-fold."""

    policy: Policy
    reports: dict[str, EvalReport]
    kfold: KFoldReport

    @property
    def harmful(self) -> int:
        return self.kfold.harmful + sum(r.harmful for r in self.reports.values())

    @property
    def score(self) -> float:
        """Mean of correct% (labelled sets) and right-verdict% (k-fold), less half the
        clarifications: answering right matters most, asking back costs a little."""
        labelled = [r.correct_pct - 0.5 * r.clarify_pct for r in self.reports.values()]
        folds = 100.0 * (self.kfold.same_verdict - 0.5 * self.kfold.clarified) / max(
            self.kfold.total, 1)
        return sum([*labelled, folds]) / (len(labelled) + 1)


def calibrate(dialogue: Dialogue, sets: dict[str, Sequence[Labelled]],
              held_out: Sequence[HeldOut]) -> list[Trial]:
    """Sweep the decision thresholds on cached readings; best first (0 harmful, then score).

    Calibrated on every labelled set together with k-fold over the KB, so that no threshold
    is fitted to one file; the readings (normalisation, ranking) are computed once.
    """
    readings = {name: [dialogue.read(i.q) for i in items] for name, items in sets.items()}
    trials = []
    for values in itertools.product(*_GRID.values()):
        policy = replace(dialogue.policy, **dict(zip(_GRID, values, strict=True)))
        if not policy.clarify_threshold <= policy.agree_threshold <= policy.answer_threshold:
            continue
        reports = {name: EvalReport([Outcome(i, dialogue.decide(r, policy))
                                     for i, r in zip(items, readings[name], strict=True)])
                   for name, items in sets.items()}
        trials.append(Trial(policy, reports, kfold_report(held_out, policy)))
    trials.sort(key=lambda t: (t.harmful, -t.score))
    return trials
