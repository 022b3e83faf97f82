"""Labelled questions: answer quality must not slide back on sets the KB was not written from.

Floors sit a few points under the figures measured when they were set (README, "Measured"), so
that a regression fails while run-to-run noise of a growing KB does not. Harmful answers (a
"boleh" for a "dilarang") must stay at zero everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue import Dialogue
from bot.evaluation import evaluate, format_miss, load_labelled
from tests.conftest import ROOT, SHARED_DIR

# file, minimum correct %, maximum clarify %, minimum out-of-scope rejected %
FLOORS = [
    (SHARED_DIR / "dev-real.yaml", 82.0, 6.0, 88.0),
    (SHARED_DIR / "dev-questions.yaml", 93.0, 5.0, 95.0),
    (ROOT / "tests" / "data" / "golden.yaml", 90.0, 5.0, 95.0),
    (ROOT / "tests" / "data" / "probe.yaml", 73.0, 6.0, 88.0),
    (ROOT / "tests" / "data" / "probe2.yaml", 68.0, 7.0, 90.0),
    (ROOT / "tests" / "data" / "probe3.yaml", 79.0, 6.0, 90.0),
    (ROOT / "tests" / "data" / "probe4.yaml", 66.0, 8.0, 85.0),
    (ROOT / "tests" / "data" / "probe5.yaml", 65.0, 6.0, 85.0),
    (ROOT / "tests" / "data" / "probe6.yaml", 65.0, 7.0, 85.0),
]


@pytest.mark.parametrize(("path", "correct", "clarify", "rejected"), FLOORS,
                         ids=[p.name for p, *_ in FLOORS])
def test_labelled_questions_do_not_regress(dialogue: Dialogue, path: Path, correct: float,
                                           clarify: float, rejected: float) -> None:
    if not path.is_file():
        pytest.skip(f"{path} not present")
    report = evaluate(dialogue, load_labelled(path))
    detail = "\n".join([*report.summary_lines(), *map(format_miss, report.misses())])
    assert report.harmful == 0, detail
    assert report.correct_pct >= correct, detail
    assert report.clarify_pct <= clarify, detail
    assert report.rejected_pct >= rejected, detail
