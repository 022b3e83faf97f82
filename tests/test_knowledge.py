"""Loading the knowledge base: the real one is valid; broken edits are reported precisely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from bot.models import IntentKind

REQUIRED_TOPICS = {"foto", "medsos", "kampanye", "timses", "keluarga", "jabatan", "uang",
                   "pilih", "desa", "aturan", "sanksi", "lapor", "jadwal"}


def test_real_knowledge_base_is_valid_and_covers_the_topics(kb: KnowledgeBase) -> None:
    topics = {i.topic for i in kb.intents.values() if i.kind is IntentKind.ANSWER}
    assert topics >= REQUIRED_TOPICS
    assert {i.kind for i in kb.intents.values()} == set(IntentKind)
    assert len(kb.intents) >= 60
    for intent in kb.intents.values():
        # KASN was dissolved in 2024: any mention must say so, never send users there.
        text = intent.answer.lower()
        if re.search(r"\bkasn\b", text):
            said = ("bubar", "berhenti", "tidak lagi", "dialihkan")
            assert any(w in text for w in said), intent.id


def test_every_answer_cites_sources_and_basis(kb: KnowledgeBase) -> None:
    for intent in kb.intents.values():
        if intent.kind is IntentKind.ANSWER:
            assert intent.sources and intent.basis and intent.verdict, intent.id
            assert all(s in kb.sources for s in intent.sources)


def test_every_seed_article_is_a_source(kb: KnowledgeBase) -> None:
    articles = [s for s in kb.sources.values() if s.id.startswith("art_")]
    assert len(articles) == 5
    cited = {s for i in kb.intents.values() for s in i.sources}
    assert {a.id for a in articles} <= cited


def _write_intents(root: Path, text: str) -> None:
    (root / "intents" / "zz_test.yaml").write_text(text, encoding="utf-8")


def _problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    return [str(p) for p in info.value.problems]


def test_invalid_yaml_is_reported_with_file_and_line(kb_copy: Path) -> None:
    _write_intents(kb_copy, "intents:\n  - id: x\n    title: [unclosed\n")
    problems = _problems(kb_copy)
    assert len(problems) == 1
    assert problems[0].startswith("knowledge/intents/zz_test.yaml:")
    assert "invalid YAML" in problems[0]


def test_every_problem_is_reported_with_location(kb_copy: Path) -> None:
    _write_intents(kb_copy, """\
intents:
  - id: contoh_baru
    title: Contoh
    topic: foto
    verdict: mungkin
    questions: [satu pertanyaan baru, dua pertanyaan baru, tiga pertanyaan baru,
      empat pertanyaan baru, lima pertanyaan baru]
    answer: ""
    basis: [PP 94/2021]
    sources: [tidak_ada]
    related: [intent_hilang]
    warna: merah
  - id: contoh_baru
    title: Duplikat
    topic: foto
    verdict: boleh
    questions: [a b c, d e f, g h i, j k l, m n o]
    answer: Jawaban.
    basis: [PP 94/2021]
    sources: [pp_94_2021]
""")
    text = "\n".join(_problems(kb_copy))
    assert "zz_test.yaml:5: contoh_baru: verdict: must be boleh" in text
    assert "zz_test.yaml:8: contoh_baru: answer: must be non-empty text" in text
    assert "zz_test.yaml:10: contoh_baru: sources: unknown source id 'tidak_ada'" in text
    assert "contoh_baru: related: unknown intent id 'intent_hilang'" in text
    assert "zz_test.yaml:12: contoh_baru: warna: unknown field" in text
    assert "zz_test.yaml:13: contoh_baru: id: duplicate intent id" in text


def test_same_phrasing_under_two_intents_is_reported(kb: KnowledgeBase, kb_copy: Path) -> None:
    existing = next(i for i in kb.intents.values() if i.kind is IntentKind.ANSWER)
    _write_intents(kb_copy, f"""\
intents:
  - id: salinan
    title: Salinan
    topic: foto
    verdict: info
    questions: ["{existing.questions[0].upper()}!!", b1 b2, c1 c2, d1 d2, e1 e2]
    answer: Jawaban.
    basis: [PP 94/2021]
    sources: [pp_94_2021]
""")
    text = "\n".join(_problems(kb_copy))
    assert f"is also under intent '{existing.id}'" in text


def test_smalltalk_with_verdict_and_unconfirmed_without_caution(kb_copy: Path) -> None:
    _write_intents(kb_copy, """\
intents:
  - id: obrolan
    kind: smalltalk
    title: Obrolan
    topic: umum
    verdict: boleh
    questions: [xyz satu, xyz dua]
    answer: Halo.
  - id: belum_pasti
    title: Belum pasti
    topic: foto
    verdict: dilarang
    confidence: U
    questions: [qq1 a, qq2 b, qq3 c, qq4 d, qq5 e]
    answer: Jawaban.
    basis: [PP 94/2021]
    sources: [pp_94_2021]
""")
    text = "\n".join(_problems(kb_copy))
    assert "obrolan: verdict: a smalltalk intent must not have a verdict" in text
    assert "belum_pasti: caution: required when confidence is U" in text


def test_duplicate_reminder_ids_are_reported(kb_copy: Path) -> None:
    calendar = kb_copy / "calendar.yaml"
    text = calendar.read_text(encoding="utf-8")
    calendar.write_text(text.replace("id: ikrar_h1,", "id: ikrar_h7,"), encoding="utf-8")
    assert any("ikrar_h7: id: duplicate reminder id" in p for p in _problems(kb_copy))


def test_missing_file_and_bad_source(kb_copy: Path) -> None:
    (kb_copy / "pledge.yaml").unlink()
    (kb_copy / "sources.yaml").write_text("sources:\n  - id: Bad Id\n", encoding="utf-8")
    text = "\n".join(_problems(kb_copy))
    assert "pledge.yaml:0: -: -: cannot read file" in text
    assert "sources.yaml:2: Bad Id: id: must be snake_case, at most 40 characters" in text
