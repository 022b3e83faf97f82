"""The legal review's defects (issue 10, section 1): each fix with a test that would have caught it.

Facts are in ../shared/legal-facts.md and the review in ../shared/kb-legal-audit.md; the tests
check the knowledge base (verdicts, answer text, citations) and the validator rules that now
guard against the same mistakes.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.dialogue import Dialogue
from bot.knowledge import (
    KnowledgeBase,
    KnowledgeError,
    load_knowledge,
    regulation_names,
    stale_reviews,
)
from bot.models import Verdict
from tests.conftest import KNOWLEDGE_DIR, ROOT

SIDE_BY_SIDE = ("foto_bersama_calon", "pose_jari", "medsos_like_komen_share",
                "medsos_follow_gabung_grup", "medsos_posting_dukungan",
                "medsos_foto_profil_twibbon", "pasang_spanduk_baliho")


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root)
    return root


def _problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(root)
    return [str(p) for p in err.value.problems]


# 1. pindah_memilih ------------------------------------------------------------------------
def test_voting_away_from_home_is_not_a_flat_boleh(kb: KnowledgeBase, dialogue: Dialogue) -> None:
    intent = kb.intents["pindah_memilih"]
    assert intent.verdict is Verdict.BERSYARAT
    assert "surat suara gubernur" in intent.answer
    assert "provinsi lain" in intent.answer
    assert "kpu_pindah_memilih_2024" in intent.sources
    reply = dialogue.answer("dinas luar kota pas pilkada, bisa nyoblos di tempat tugas?")
    assert reply.verdict is not Verdict.BOLEH


# 2. photos that are not posted ---------------------------------------------------------------
@pytest.mark.parametrize("intent_id", ["foto_tanpa_diposting", "diajak_selfie_calon"])
def test_unposted_photo_is_risky_not_banned(kb: KnowledgeBase, intent_id: str) -> None:
    intent = kb.intents[intent_id]
    assert intent.verdict is Verdict.BERSYARAT
    assert intent.confidence in ("P", "U") and intent.caution
    assert "berisiko, sebaiknya dihindari" in intent.answer
    assert "memposting" in intent.answer or "posting" in intent.answer


# 3. PPPK have no CLTN ------------------------------------------------------------------------
def test_pppk_are_not_told_to_take_cltn(kb: KnowledgeBase) -> None:
    for intent_id in ("nyalon_mundur", "pasangan_calon"):
        intent = kb.intents[intent_id]
        assert "PNS maupun PPPK" not in intent.answer
        assert "PPPK tidak punya CLTN" in intent.answer
        assert "perbkn_7_2022" in intent.sources
    caution = kb.intents["pasangan_calon"].caution or ""
    # the caution no longer contradicts its own basis (SKB KE-7 is written rule text)
    assert "tertulis di SKB 2022" in caution


# 4. legislative candidates resign at bakal-calon registration -----------------------------------
def test_caleg_resignation_is_due_at_registration(kb: KnowledgeBase) -> None:
    intent = kb.intents["nyalon_mundur"]
    assert "saat partai mengajukan Anda sebagai bakal calon" in intent.answer
    assert "pkpu_10_2023" in intent.sources
    assert any("PKPU 10/2023 Pasal 14" in b for b in intent.basis)


# 5. money politics: the receiver is liable in Pilkada ----------------------------------------
def test_receiving_money_politics_in_pilkada_is_a_crime(kb: KnowledgeBase) -> None:
    intent = kb.intents["terima_pemberian"]
    assert "187A ayat (2)" in intent.answer
    assert "tidak dirinci dalam sumber" not in intent.answer
    assert any("187A ayat (2)" in b for b in intent.basis)
    assert "uu_10_2016" in intent.sources
    assert any("187A ayat (1)" in b for b in kb.intents["bagi_uang_barang"].basis)
    assert "187A" in kb.intents["sanksi_pidana"].answer


# 6. the spouse exception: photographed together, not posting ---------------------------------
def test_spouse_exception_does_not_allow_posting(kb: KnowledgeBase) -> None:
    answer = kb.intents["foto_bersama_calon"].answer
    assert "tidak boleh mengunggah" in answer
    assert "Pengecualian terbatas" not in answer
    assert "Pengecualian terbatas" not in kb.intents["hadir_deklarasi"].answer
    assert "tidak boleh Anda unggah" in kb.intents["pasangan_calon"].answer


# 7. campaign attendance is consistent --------------------------------------------------------
def test_campaign_attendance_intents_agree(kb: KnowledgeBase) -> None:
    taking_part = kb.intents["ikut_kampanye"]
    assert taking_part.verdict is Verdict.DILARANG
    assert taking_part.caution and "2019" in taking_part.caution
    for intent_id in ("hadir_kampanye_pasif",):
        intent = kb.intents[intent_id]
        assert intent.verdict is Verdict.BERSYARAT and intent.confidence == "U"
        assert intent.caution and "2019" in intent.caution and "2024" in intent.caution
        assert "bawaslu_kampanye_2019" in intent.sources
    # a question that states an active role gets the strict reading
    passive = kb.intents["hadir_kampanye_pasif"]
    assert {c.verdict for c in passive.conditions} == {Verdict.DILARANG}


# 8. government facilities and campuses ------------------------------------------------------
def test_facilities_answer_distinguishes_pemilu_and_pilkada(kb: KnowledgeBase) -> None:
    intent = kb.intents["fasilitas_negara"]
    assert "aula atau ruang rapat" not in intent.answer
    assert "65/PUU-XXI/2023" in intent.answer and "Pilkada" in intent.answer
    assert {"mk_65_2023", "pkpu_20_2023"} <= set(intent.sources)


# 9. reporting --------------------------------------------------------------------------------
def test_reporting_covers_pilkada_and_periods_between_stages(kb: KnowledgeBase) -> None:
    how = kb.intents["cara_lapor"]
    assert "Perbawaslu 8/2020" in how.answer and "Pasal 134" in how.answer
    assert "bukan batas pengaduan ke BKN" in how.answer
    assert "Di luar tahapan" in how.answer
    assert "3 hari" in kb.intents["proses_setelah_lapor"].answer
    assert "sbt.bkn.go.id, paling lambat 7 hari" not in kb.intents["boleh_lapor_rekan"].answer
    for intent_id in ("cara_lapor", "syarat_laporan", "proses_setelah_lapor"):
        assert "perbawaslu_8_2020" in kb.intents[intent_id].sources


# 10. sanctions: which regime applies ----------------------------------------------------------
@pytest.mark.parametrize("intent_id", SIDE_BY_SIDE)
def test_sanction_says_when_kode_etik_or_disiplin_applies(kb: KnowledgeBase,
                                                           intent_id: str) -> None:
    sanction = kb.intents[intent_id].sanction or ""
    assert "Sebagai pelanggaran kode etik" not in sanction  # no longer two regimes side by side
    assert "bakal calon (sebelum penetapan)" in sanction
    assert "PP 42/2004" in sanction and "PP 94/2021" in sanction and "tafsiran" in sanction


def test_mk_136_extends_pasal_188(kb: KnowledgeBase) -> None:
    assert "136/PUU-XXII/2024" in kb.intents["sanksi_pidana"].answer
    assert "mk_136_2024" in kb.intents["keputusan_menguntungkan"].sources


# 11. citations and the check rule --------------------------------------------------------------
def test_citation_fixes(kb: KnowledgeBase) -> None:
    assert "dutatv.com" in (kb.sources["bkn_pose_2023"].url or "")
    for intent_id in ("sanksi_umum", "sanksi_pemecatan"):
        assert "art_jombang_2024" not in kb.intents[intent_id].sources


def test_regulation_names_are_read_in_every_spelling() -> None:
    assert regulation_names("PP 94/2021 Pasal 5 huruf n") == ["PP 94/2021"]
    assert regulation_names("PP Nomor 94 Tahun 2021 tentang Disiplin PNS") == ["PP 94/2021"]
    assert regulation_names("Perbawaslu 7/2022 (Pemilu) dan Perbawaslu 8/2020") == [
        "Perbawaslu 7/2022", "Perbawaslu 8/2020"]
    assert regulation_names("SKB 2022, lampiran") == ["SKB 2022"]
    assert regulation_names("Putusan MK 136/PUU-XXII/2024") == ["MK 136/PUU-XXII/2024"]
    assert regulation_names("Ikrar netralitas ASN butir 4") == []


def test_check_flags_a_regulation_that_is_not_cited(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "intents" / "uang.yaml"
    text = path.read_text(encoding="utf-8")
    cited = "    sources: [pp_94_2021, skb_2022]\n"
    assert "      - PP 94/2021 Pasal 5 huruf n angka 7\n" in text and cited in text
    path.write_text(text.replace(cited, "    sources: [skb_2022]\n"), encoding="utf-8")
    problems = _problems(root)
    assert any("surat_dukungan_ktp: basis: names 'PP 94/2021': cite source pp_94_2021" in p
               for p in problems)


# 12. no machine paths in intent files ------------------------------------------------------------
def test_intent_files_name_no_machine_paths() -> None:
    for path in (KNOWLEDGE_DIR / "intents").glob("*.yaml"):
        assert "/work/" not in path.read_text(encoding="utf-8"), path.name


# 13. lexicon collisions --------------------------------------------------------------------------
def test_agency_abbreviation_stays_the_agency(dialogue: Dialogue) -> None:
    assert dialogue.matcher.query_terms("bkn") == ["bkn"]  # was 'bukan', a verdict word


def test_place_name_is_not_read_as_a_kb_word(dialogue: Dialogue) -> None:
    # 'batu' (Kota Batu) was typo-corrected to 'bantu' (a keyword of a dilarang intent)
    for place in ("batu", "bandung", "kalbar", "semarang"):
        expected = dialogue.matcher.query_terms("pns")
        assert dialogue.matcher.query_terms(f"pns di {place}") == expected


def test_party_abbreviation_keeps_its_name(kb: KnowledgeBase) -> None:
    assert kb.normalizer.tokens("ppp") == ["ppp"]  # the elongation rule made it 'p'


def test_regulation_abbreviation_before_a_number_is_no_profile_photo(kb: KnowledgeBase) -> None:
    # "pp" is chat for "foto profil", but "PP 94/2021" is a Peraturan Pemerintah
    assert kb.normalizer.tokens("sesuai PP 94/2021") == ["sesuai", "pp", "94", "2021"]
    assert "fotoprofil" in kb.normalizer.tokens("ganti pp wa")


def test_makin_is_not_read_as_main(dialogue: Dialogue) -> None:
    assert "main" not in dialogue.matcher.query_terms("makin dekat pilkada")


def test_check_flags_a_rewrite_of_an_agency_name(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lexicon = yaml.safe_load((root / "lexicon.yaml").read_text(encoding="utf-8"))
    lexicon["replace"]["bkn"] = "bukan"
    (root / "lexicon.yaml").write_text(yaml.safe_dump(lexicon, allow_unicode=True),
                                       encoding="utf-8")
    assert any("'bkn' names a body that publishes sources" in p for p in _problems(root))


PROBE = """intents:
  - id: probe_panwascam
    title: Probe
    topic: pilih
    verdict: dilarang
    confidence: C
    questions:
      - probe satu panwascam xq
      - probe dua panwascam xq
      - probe tiga panwascam xq
      - probe empat panwascam xq
      - probe lima panwascam xq
    keywords: [panwascam]
    answer: Probe.
    basis: [Probe]
    sources: [skb_2022]
    reviewed: 2026-12-01
"""


def test_check_flags_a_keyword_rewritten_into_another_verdicts_keyword(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lexicon = yaml.safe_load((root / "lexicon.yaml").read_text(encoding="utf-8"))
    lexicon["replace"]["panwascam"] = "bawaslu"  # the entry that sent Panwascam to a boleh answer
    (root / "lexicon.yaml").write_text(yaml.safe_dump(lexicon, allow_unicode=True),
                                       encoding="utf-8")
    (root / "intents" / "zz_probe.yaml").write_text(PROBE, encoding="utf-8")
    problems = _problems(root)
    assert any("lexicon: replace: 'panwascam' (keyword of " in p and "becomes 'bawaslu'" in p
               for p in problems)


# 14. review dates --------------------------------------------------------------------------------
def test_rechecked_intents_carry_the_review_date(kb: KnowledgeBase) -> None:
    for intent_id in ("pindah_memilih", "foto_tanpa_diposting", "cara_lapor", "nyalon_mundur",
                      "terima_pemberian", "fasilitas_negara", "hadir_deklarasi", *SIDE_BY_SIDE):
        assert kb.intents[intent_id].reviewed == dt.date(2026, 12, 1), intent_id


def test_stale_reviews_warn_after_twelve_months(kb: KnowledgeBase) -> None:
    assert stale_reviews(kb, dt.date(2026, 12, 1)) == []
    later = stale_reviews(kb, dt.date(2028, 1, 1))
    assert len(later) == len(kb.intents)
    assert all(": reviewed: " in w for w in later)


def test_check_command_warns_but_passes(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "intents" / "umum.yaml"
    text = path.read_text(encoding="utf-8")
    first = text.index("    reviewed: ")
    end = text.index("\n", first)
    path.write_text(text[:first] + "    reviewed: 2020-01-01" + text[end:], encoding="utf-8")
    env = dict(os.environ, KNOWLEDGE_DIR=str(root))
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "OK:" in done.stdout
    assert "WARN:" in done.stdout and "2020-01-01" in done.stdout
