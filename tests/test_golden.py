"""Golden questions: the matcher must not slide back on the shared development set."""

from __future__ import annotations

import pytest

from bot.dialogue import Dialogue
from bot.evaluation import evaluate, format_miss, load_labelled
from tests.conftest import SHARED_DIR

DEV_QUESTIONS = SHARED_DIR / "dev-questions.yaml"


@pytest.mark.skipif(not DEV_QUESTIONS.is_file(), reason="../shared/dev-questions.yaml not present")
def test_dev_questions_do_not_regress(dialogue: Dialogue) -> None:
    report = evaluate(dialogue, load_labelled(DEV_QUESTIONS))
    detail = "\n".join([*report.summary_lines(), *map(format_miss, report.misses())])
    assert report.harmful == 0, detail
    assert report.correct_pct >= 90.0, detail
    assert report.rejected_pct >= 90.0, detail
