"""Answers that depend on the election calendar read it on the day of the reply."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.dialogue import Dialogue, calendar_sentences
from bot.knowledge import KnowledgeBase, KnowledgeError, load_knowledge

BETWEEN = dt.date(2026, 12, 1)       # no stage running (as when this was written)
CAMPAIGN = dt.date(2024, 10, 1)      # Pilkada 2024 campaign
BEFORE = dt.date(2024, 8, 1)         # before Pilkada 2024 registration, Pemilu 2024 over


def test_between_elections_nothing_runs_and_reports_go_to_bkn(kb: KnowledgeBase) -> None:
    facts = calendar_sentences(kb.calendar, BETWEEN)
    assert "tidak ada tahapan" in facts["tahapan_sekarang"]
    assert "1 Desember 2026" in facts["tahapan_sekarang"]
    assert "BKN" in facts["jalur_lapor"] and "bukan ke Bawaslu" in facts["jalur_lapor"]


def test_during_a_campaign_the_stage_is_named_and_reports_go_to_bawaslu(
        kb: KnowledgeBase) -> None:
    facts = calendar_sentences(kb.calendar, CAMPAIGN)
    assert "Masa kampanye Pilkada Serentak 2024" in facts["tahapan_sekarang"]
    assert "Bawaslu" in facts["jalur_lapor"] and "7 hari" in facts["jalur_lapor"]


def test_the_next_stage_is_named_when_the_calendar_has_one(kb: KnowledgeBase) -> None:
    assert "Pendaftaran pasangan calon" in calendar_sentences(kb.calendar, BEFORE)[
        "tahapan_berikutnya"]


@pytest.mark.parametrize(("today", "expected"), [(BETWEEN, "bukan ke Bawaslu"),
                                                  (CAMPAIGN, "laporkan pelanggaran ke Bawaslu")])
def test_the_reporting_answer_says_which_route_applies_today(
        kb: KnowledgeBase, today: dt.date, expected: str) -> None:
    dialogue = Dialogue(kb, today=lambda: today)
    reply = dialogue.answer_intent("cara_lapor")
    assert expected in reply.text and "{" not in reply.text


def test_schedule_says_nothing_runs_today(kb: KnowledgeBase) -> None:
    reply = Dialogue(kb, today=lambda: BETWEEN).schedule(BETWEEN)
    assert reply.text.startswith("Saat ini (1 Desember 2026) tidak ada tahapan")


def test_an_unknown_placeholder_is_a_check_error(kb_copy: Path) -> None:
    root = kb_copy
    path = root / "intents" / "penindakan.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "{tahapan_sekarang}", "{tahapan_kemarin}", 1), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="unknown placeholder"):
        load_knowledge(root)
