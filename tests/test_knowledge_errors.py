"""One broken YAML file is reported once: its root cause in one line, follow-ons counted.

A tab in topics.yaml used to give one multi-line parser error plus an "unknown topic" for every
intent (about 160 lines); the operator needs the one line that says what to fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge import KnowledgeBase, KnowledgeError, load_knowledge


def _tab_in(path: Path) -> int:
    """Replace the first two-space indentation after the header with a tab; return its line."""
    lines = path.read_text(encoding="utf-8").split("\n")
    number = next(n for n, line in enumerate(lines) if n > 2 and line.startswith("  "))
    lines[number] = "\t" + lines[number][2:]
    path.write_text("\n".join(lines), encoding="utf-8")
    return number + 1


def _problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    return [str(p) for p in info.value.problems]


def _problems_after(root: Path, name: str, old: str, new: str) -> list[str]:
    """The problems of the KB at `root` once `old` (which must be there) reads `new` in `name`."""
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = _problems(root)
    path.write_text(text, encoding="utf-8")
    return problems


@pytest.mark.parametrize("name", ["topics.yaml", "sources.yaml", "regions.yaml",
                                  "intents/aturan.yaml"])
def test_a_tab_reports_the_root_cause_and_suppresses_what_depends_on_it(kb_copy: Path,
                                                                        name: str) -> None:
    line = _tab_in(kb_copy / name)
    problems = _problems(kb_copy)
    assert all("\n" not in p for p in problems)
    cause, note = problems
    assert cause == (f"knowledge/{name}:{line}: -: -: invalid YAML: found character '\\t' that "
                     "cannot start any token at column 1; indent with spaces, not tabs")
    assert note.startswith(f"knowledge/{name}:{line}: -: -: ")
    assert "problem(s) elsewhere follow from this one and are not shown" in note


def test_other_problems_still_show_beside_a_broken_file(kb_copy: Path) -> None:
    _tab_in(kb_copy / "topics.yaml")
    (kb_copy / "intents" / "zz.yaml").write_text("intents:\n  - id: Bad\n", encoding="utf-8")
    problems = _problems(kb_copy)
    assert any(p.startswith("knowledge/intents/zz.yaml:2: Bad: id: must be snake_case")
               for p in problems)
    assert not any("unknown topic" in p for p in problems)


def test_a_bare_no_as_a_lexicon_key_is_reported(kb_copy: Path) -> None:
    # YAML 1.1 reads a bare `no:` as false: the slang "no 2" would silently never be "nomor 2"
    lexicon = kb_copy / "lexicon.yaml"
    lexicon.write_text(lexicon.read_text(encoding="utf-8").replace('  "no": nomor', "  no: nomor"),
                       encoding="utf-8")
    problems = _problems(kb_copy)
    assert any(p.startswith("knowledge/lexicon.yaml:") and "key False is not a word" in p
               for p in problems)


def test_a_question_type_cue_that_is_a_rule_keyword_is_reported(kb_copy: Path) -> None:
    # "ancamannya" is stemmed to "ancam": every "atasan ngancem …" question would be read as
    # asking for the sanction instead of whether the threat is allowed
    types = kb_copy / "question_types.yaml"
    text = types.read_text(encoding="utf-8")
    types.write_text(text.replace("      - sanksinya apa\n",
                                  "      - sanksinya apa\n      - ancamannya\n", 1),
                     encoding="utf-8")
    problems = _problems(kb_copy)
    assert any(p.startswith("knowledge/question_types.yaml:") and
               "cue 'ancamannya' reads as 'ancam', a keyword of intent" in p for p in problems)


def test_a_multi_word_negation_and_an_unconfirmed_boleh_are_reported(kb_copy: Path) -> None:
    # each word of "tidak pernah" would negate alone, so "saya pernah pakai kaos paslon" hid
    # the condition; an unconfirmed rule is never a plain boleh
    scope = kb_copy / "scope.yaml"
    scope.write_text(scope.read_text(encoding="utf-8").replace(
        "negations:\n  - tidak\n", "negations:\n  - tidak\n  - tidak pernah\n", 1),
        encoding="utf-8")
    intents = kb_copy / "intents" / "jabatan.yaml"
    intents.write_text(intents.read_text(encoding="utf-8").replace(
        "    verdict: bersyarat\n    confidence: U", "    verdict: boleh\n    confidence: U", 1),
        encoding="utf-8")
    problems = _problems(kb_copy)
    assert any(p.startswith("knowledge/scope.yaml:") and
               "'tidak pernah': a negation is one word" in p for p in problems)
    assert any(p.startswith("knowledge/intents/jabatan.yaml:") and
               "confidence U) is never a plain boleh" in p for p in problems)


def test_shared_conditions_are_named_by_id_and_checked(kb_copy: Path, kb: KnowledgeBase) -> None:
    # conditions.yaml holds conditions many rules share; an intent names them by id
    pose = [c for c in kb.intents["nonton_debat"].conditions if "pose jari" in c.cues]
    assert pose and pose[0].text.startswith("Pose atau salam jari")
    problems = _problems_after(kb_copy, "intents/kampanye.yaml", "      - pose_jari\n",
                               "      - pose_jarii\n")
    assert any(p.startswith("knowledge/intents/kampanye.yaml:") and
               "unknown shared condition 'pose_jarii' (see conditions.yaml)" in p
               for p in problems)


def test_a_milder_sibling_must_be_a_bersyarat_intent(kb_copy: Path, kb: KnowledgeBase) -> None:
    # "… tapi tidak diposting" turns the prohibited photo into its bersyarat sibling; a sibling
    # that says boleh (or does not exist) would be a permission read from a few words
    assert kb.intents["foto_bersama_calon"].milder[0].intent == "foto_tanpa_diposting"
    for target, reason in (("nonton_debat", "'nonton_debat' must be a bersyarat intent"),
                           ("foto_tanpa", "unknown intent id 'foto_tanpa'")):
        problems = _problems_after(kb_copy, "intents/foto_medsos.yaml",
                                   "        intent: foto_tanpa_diposting\n",
                                   f"        intent: {target}\n")
        assert any(p.startswith("knowledge/intents/foto_medsos.yaml:") and "foto_bersama_calon"
                   in p and "milder" in p and reason in p for p in problems), problems


def test_a_condition_cue_of_verdict_words_only_is_refused(kb_copy: Path) -> None:
    # "tidak diizinkan" reads as "tidak boleh": it broke every "asn tidak boleh jadi kpps?"
    problems = _problems_after(kb_copy, "intents/pilih_desa.yaml", "tidak diizinkan atasan,",
                               "tidak diizinkan,")
    assert any(p.startswith("knowledge/intents/pilih_desa.yaml:") and "kpps_pps" in p
               and "'tidak diizinkan' reads as 'tidak boleh'" in p for p in problems), problems
