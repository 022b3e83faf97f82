"""Learning from real traffic: attached questions become reviewed phrasings in learned.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import replies
from bot.admin import CMD_LEARN, CMD_UNANSWERED, Admin
from bot.config import Settings
from bot.dialogue import Dialogue
from bot.knowledge import LEARNED_FILE, KnowledgeError, load_knowledge
from bot.learning import LearnError, attach
from bot.models import ChatRef
from bot.store import Store

TODAY = dt.date(2026, 12, 1)
QUESTION = "min sy nge-love story wa caleg dprd, aman gak tuh"


@pytest.fixture
def knowledge(kb_copy: Path) -> Path:
    return kb_copy


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


# -- the admin's side: /takterjawab lists, /ajarkan attaches ---------------------------------
NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
ADMIN, STRANGER = ChatRef.telegram(900), ChatRef.telegram(12345)


@pytest.fixture
def admin(knowledge: Path, store: Store) -> Admin:
    kb = load_knowledge(knowledge)
    dialogue = Dialogue(kb)
    settings = Settings(admin_ids=frozenset({900}), knowledge_dir=knowledge)
    return Admin(store, settings, lambda: kb,
                 suggest=lambda text: [s.intent for s in dialogue.read(text).ranked])


def test_unanswered_lists_numbers_and_suggestions(admin: Admin, store: Store) -> None:
    store.record_miss(QUESTION, "fallback", None, NOW)
    text = admin.handle(CMD_UNANSWERED, "", ADMIN, NOW).text
    number = store.recent_misses()[0]["id"]
    assert f"#{number}" in text and "medsos_like_komen_share" in text and "/ajarkan" in text


def test_ajarkan_attaches_the_question_and_forgets_the_miss(admin: Admin, store: Store,
                                                             knowledge: Path) -> None:
    store.record_miss(QUESTION, "fallback", None, NOW)
    number = store.recent_misses()[0]["id"]
    reply = admin.handle(CMD_LEARN, f"{number} medsos_like_komen_share", ADMIN, NOW)
    assert "learned.yaml" in reply.text and "/muatulang" in reply.text
    assert QUESTION in load_knowledge(knowledge).intents["medsos_like_komen_share"].questions
    assert store.recent_misses() == []


def test_ajarkan_out_of_scope_and_ignore(admin: Admin, store: Store, knowledge: Path) -> None:
    store.record_miss("resep kue lapis legit dong", "fallback", None, NOW)
    store.record_miss("asdf", "fallback", None, NOW)
    first, second = (m["id"] for m in reversed(store.recent_misses()))
    admin.handle(CMD_LEARN, f"{first} luar", ADMIN, NOW)
    assert "resep kue lapis legit dong" in load_knowledge(knowledge).intents[
        "luar_topik"].questions
    assert "diabaikan" in admin.handle(CMD_LEARN, f"{second} abaikan", ADMIN, NOW).text
    assert store.recent_misses() == []


def test_ajarkan_refuses_strangers_bad_input_and_unknown_intents(admin: Admin,
                                                                 store: Store) -> None:
    store.record_miss(QUESTION, "fallback", None, NOW)
    number = store.recent_misses()[0]["id"]
    assert admin.handle(CMD_LEARN, f"{number} medsos_like_komen_share", STRANGER,
                        NOW).text == replies.ADMIN_REFUSED
    assert admin.handle(CMD_LEARN, "x", ADMIN, NOW).text == replies.ADMIN_LEARN_USAGE
    assert "tidak_ada" in admin.handle(CMD_LEARN, f"{number} tidak_ada", ADMIN, NOW).text
    assert len(store.recent_misses()) == 1  # nothing lost on a refusal
