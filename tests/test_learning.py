"""Learning from real traffic: attached questions become reviewed phrasings in learned.yaml."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.dialogue import Dialogue
from bot.knowledge import LEARNED_FILE, KnowledgeError, load_knowledge
from bot.learning import LearnError, attach
from tests.conftest import KNOWLEDGE_DIR

TODAY = dt.date(2026, 12, 1)
QUESTION = "min sy nge-love story wa caleg dprd, aman gak tuh"


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root)
    return root


def test_attached_question_is_a_phrasing_of_its_intent(knowledge: Path) -> None:
    kb = attach(knowledge, QUESTION, "medsos_like_komen_share", TODAY)
    assert QUESTION in kb.intents["medsos_like_komen_share"].questions
    text = (knowledge / LEARNED_FILE).read_text(encoding="utf-8")
    assert "intent: medsos_like_komen_share" in text and "added: 2026-12-01" in text
    assert text.startswith("# Phrasings from real traffic")  # the header comment is kept
    reloaded = load_knowledge(knowledge)
    assert QUESTION in reloaded.intents["medsos_like_komen_share"].questions
    assert Dialogue(reloaded).answer(QUESTION).intent == "medsos_like_komen_share"
    # k-fold enumerates `intent.questions`, so `main.py eval --kfold` includes it too.


def test_unknown_intent_or_empty_text_leaves_the_file_alone(knowledge: Path) -> None:
    before = (knowledge / LEARNED_FILE).read_text(encoding="utf-8")
    with pytest.raises(LearnError, match="tidak_ada"):
        attach(knowledge, QUESTION, "tidak_ada", TODAY)
    with pytest.raises(LearnError):
        attach(knowledge, "   ", "medsos_like_komen_share", TODAY)
    assert (knowledge / LEARNED_FILE).read_text(encoding="utf-8") == before


def test_a_phrasing_already_under_another_intent_is_refused(knowledge: Path) -> None:
    kb = load_knowledge(knowledge)
    taken = kb.intents["foto_bersama_calon"].questions[0]
    with pytest.raises(LearnError, match="foto_bersama_calon"):
        attach(knowledge, taken, "medsos_like_komen_share", TODAY)
    load_knowledge(knowledge)  # still loads


def test_a_broken_learned_file_is_reported_with_its_line(knowledge: Path) -> None:
    (knowledge / LEARNED_FILE).write_text("phrasings:\n  - q: halo\n    intent: nope\n",
                                          encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(knowledge)
    assert any(p.file.endswith(LEARNED_FILE) and p.line == 3 and p.field == "intent"
               for p in caught.value.problems)
