"""Golden questions: the matcher must not slide back on labelled sets it was not built from."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue import Dialogue
from bot.evaluation import evaluate, format_miss, load_labelled
from tests.conftest import ROOT, SHARED_DIR

DEV_QUESTIONS = SHARED_DIR / "dev-questions.yaml"
OUR_QUESTIONS = ROOT / "tests" / "data" / "golden.yaml"


def _assert_floor(dialogue: Dialogue, path: Path) -> None:
    report = evaluate(dialogue, load_labelled(path))
    detail = "\n".join([*report.summary_lines(), *map(format_miss, report.misses())])
    assert report.harmful == 0, detail
    assert report.correct_pct >= 90.0, detail
    assert report.rejected_pct >= 90.0, detail


@pytest.mark.skipif(not DEV_QUESTIONS.is_file(), reason="../shared/dev-questions.yaml not present")
def test_shared_dev_questions_do_not_regress(dialogue: Dialogue) -> None:
    _assert_floor(dialogue, DEV_QUESTIONS)


def test_our_golden_questions_do_not_regress(dialogue: Dialogue) -> None:
    _assert_floor(dialogue, OUR_QUESTIONS)
