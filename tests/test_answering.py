"""The answering mechanisms, each on its own: learned scorer, policy, scope gate, question
types, conditions, long messages and input hygiene.

Most tests run on a tiny, stable intent set (tests/data/mini_intents) beside the real
knowledge files, so that they test the mechanism, not the current state of the KB.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from bot.cues import Cues
from bot.dialogue import MAX_INPUT_CHARS, Dialogue, Policy, Reading, _question_part
from bot.evaluation import kfold_readings
from bot.knowledge import KnowledgeBase, load_knowledge
from bot.matcher import Matcher, MatchWeights, Scored
from bot.models import ReplyKind, Verdict
from bot.normalize import Lexicon, Normalizer
from bot.replies import OUT_OF_SCOPE, TOO_LONG_NOTE
from tests.conftest import KNOWLEDGE_DIR, ROOT

MINI_INTENTS = ROOT / "tests" / "data" / "mini_intents"


@pytest.fixture(scope="module")
def mini_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("kb") / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("intents"))
    shutil.copytree(MINI_INTENTS, root / "intents")
    return load_knowledge(root)


@pytest.fixture(scope="module")
def mini(mini_kb: KnowledgeBase) -> Dialogue:
    return Dialogue(mini_kb)


def reading(dialogue: Dialogue, ranked: list[tuple[str, float]], text: str) -> Reading:
    """A reading with a hand-made ranking, to test the policy on exact scores."""
    base = dialogue.read(text)
    return replace(base, ranked=[Scored(i, s) for i, s in ranked])


# -- learned scorer ---------------------------------------------------------------------------
def test_learned_scorer_is_part_of_every_score(mini_kb: KnowledgeBase) -> None:
    combined = Matcher(mini_kb)
    lexical = Matcher(mini_kb, MatchWeights(classifier=0.0))
    assert combined.classifier is not None and lexical.classifier is None
    question = "boleh ngelike unggahan calon bupati?"
    probabilities = combined.classifier.probabilities(
        " ".join(combined.query_terms(question)))
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    top = combined.rank(question)[0]
    lexical_score = {s.intent: s.score for s in lexical.rank(question, limit=10)}[top.intent]
    weight = combined.weights.classifier
    share = probabilities[combined.classifier.classes.index(top.intent)]
    assert top.score == pytest.approx(lexical_score + weight * share, abs=1e-6)
    assert top.intent == "like_postingan"


def test_unknown_names_do_not_sink_a_question(dialogue: Dialogue) -> None:
    reply = dialogue.answer("sy like story-nya pak dedi mulyadi, masalah?")
    assert reply.kind is ReplyKind.ANSWER
    assert reply.verdict is Verdict.DILARANG


# -- policy -----------------------------------------------------------------------------------
def test_close_candidates_with_the_same_verdict_are_answered(mini: Dialogue) -> None:
    top = mini.policy.answer_threshold - 0.01
    close = reading(mini, [("like_postingan", top), ("komen_postingan", top - 0.01)],
                    "like dan komen postingan calon")
    reply = mini.decide(close)
    assert reply.kind is ReplyKind.ANSWER and reply.intent == "like_postingan"
    assert "komen_postingan" in [b.intent for b in reply.buttons]


def test_close_candidates_that_disagree_are_a_clarification(mini: Dialogue) -> None:
    policy = mini.policy
    top = policy.answer_threshold - 0.005
    second = max(policy.clarify_threshold, top - 0.01)
    close = reading(mini, [("jadi_kpps", top), ("like_postingan", second)], "kpps like calon")
    assert mini.decide(close).kind is ReplyKind.CLARIFY


def test_a_low_score_is_not_answered_on_its_lead_alone(mini: Dialogue) -> None:
    policy = mini.policy
    low = policy.agree_threshold - 0.01
    alone = reading(mini, [("jadi_kpps", low)], "kpps")
    assert mini.decide(alone).kind is not ReplyKind.ANSWER


def test_an_unsure_boleh_becomes_a_choice(mini: Dialogue) -> None:
    policy = mini.policy
    top = policy.answer_threshold + policy.boleh_extra + 0.01
    narrow = reading(mini, [("ajak_ke_tps", top), ("jadi_kpps", top - 0.05)], "ajak ke tps kpps")
    assert mini.decide(narrow).kind is ReplyKind.CLARIFY
    clear = reading(mini, [("ajak_ke_tps", top + 0.3), ("jadi_kpps", top - 0.3)], "ajak ke tps")
    assert mini.decide(clear).verdict is Verdict.BOLEH


def test_partisan_words_never_get_a_plain_boleh(mini: Dialogue) -> None:
    policy = mini.policy
    strong = policy.answer_threshold + 0.5
    partisan = reading(mini, [("ajak_ke_tps", strong), ("jadi_kpps", 0.3)],
                       "ajak warga ke tps dan mendukung calon nomor 1")
    assert mini.decide(partisan).verdict is not Verdict.BOLEH
    alone = reading(mini, [("ajak_ke_tps", strong)], "ajak warga ke tps dan mendukung calon")
    assert mini.decide(alone).kind is ReplyKind.FALLBACK  # nothing stricter to offer: no boleh


def test_partisan_words_the_intents_phrasings_share_are_its_setting(
        mini_kb: KnowledgeBase, mini: Dialogue) -> None:
    # "boleh left dari grup timses?" is about leaving such a group: when the permission's own
    # phrasings name "timses", it is the setting, not a partisan act; other partisan words are
    intent = mini_kb.intents["ajak_ke_tps"]
    grown = replace(intent, questions=(*intent.questions, "dimasukin grup timses, boleh ke tps?"))
    with_setting = Dialogue(replace(mini_kb, intents={**mini_kb.intents, intent.id: grown}))
    strong = mini.policy.answer_threshold + 0.5

    def decide(dialogue: Dialogue, question: str) -> Verdict | None:
        return dialogue.decide(reading(dialogue, [("ajak_ke_tps", strong)], question)).verdict

    question = "udah dimasukin grup timses, boleh tetep ajak warga ke tps aja?"
    assert decide(with_setting, question) is Verdict.BOLEH
    assert decide(mini, question) is not Verdict.BOLEH
    assert decide(with_setting, "ajak warga ke tps sambil dukung calon nomor 1") \
        is not Verdict.BOLEH


def test_clearing_a_candidates_banners_is_no_help_to_the_candidate(dialogue: Dialogue) -> None:
    # "bantu bongkar baliho calon": the help is to clear the banner, not to the candidate
    reply = dialogue.answer("sy petugas trantib pns, diminta camat bantu bongkar baliho calon yg "
                            "dipasang di tiang listrik, boleh?")
    assert reply.verdict is Verdict.BOLEH, reply
    helping = dialogue.answer("boleh ga sy bantu paslon 2 di pilkada nanti, di luar jam kerja?")
    assert helping.verdict is Verdict.DILARANG, helping


def test_a_question_tag_is_no_negation(kb: KnowledgeBase) -> None:
    # "boleh gak sy …" asks; the cue after it still counts
    cues = Cues(kb.partisan, kb.normalizer, kb.negations, kb.not_negations)
    assert cues.first(kb.normalizer.words("boleh gak sy dukung paslon 2 di ig")) is not None
    assert cues.first(kb.normalizer.words("sy gak dukung paslon 2 kok")) is None


@pytest.mark.parametrize("question", [
    "boleh datang ke TPS buat nyoblos?",
    "pns boleh ikut memilih di pilkada?",
    "boleh share postingan resmi KPU soal jadwal coblosan?",
    "pns boleh ngajak tetangga dateng ke TPS, gak nyebut calon?",
    "boleh ikut sosialisasi pemilu dari KPU di kelurahan?",
    "dokter rsud ditunjuk kpu periksa kesehatan bakal calon, melanggar gak?",
])
def test_basic_safe_questions_are_answered(dialogue: Dialogue, question: str) -> None:
    reply = dialogue.answer(question)
    assert reply.kind is ReplyKind.ANSWER and reply.verdict is Verdict.BOLEH, reply


def test_an_order_is_no_permission_to_obey(dialogue: Dialogue) -> None:
    # "refusing is allowed" must not read as "boleh" for the ordered act itself
    ordered = dialogue.answer("kepsek suruh guru pasang stiker calon, boleh?")
    assert ordered.verdict is not Verdict.BOLEH, ordered
    refusing = dialogue.answer("atasan nyuruh dukung calon, boleh saya tolak?")
    assert refusing.verdict is Verdict.BOLEH, refusing


def test_leaving_a_group_is_not_staying_in_it(dialogue: Dialogue) -> None:
    assert dialogue.answer("boleh gak keluar dari grup relawan paslon").verdict is Verdict.BOLEH
    stays = dialogue.answer("dimasukin grup relawan paslon, saya gak keluar cuma diem, boleh kan")
    assert stays.verdict is Verdict.DILARANG, stays


def test_a_safe_act_with_a_candidate_added_is_not(dialogue: Dialogue) -> None:
    reply = dialogue.answer("share postingan KPU tapi ada foto paslon nomor 2, boleh?")
    assert reply.verdict is Verdict.DILARANG, reply


# -- scope gate -------------------------------------------------------------------------------
@pytest.mark.parametrize("question", [
    "PNS cowok bisa cuti nemenin istri lahiran berapa lama?",
    "tukin naik kapan ya min",
    "jam kerja pns pas puasa jadi berapa jam?",
    "pengajuan mutasi antar kabupaten karena ikut istri, syaratnya apa?",
])
def test_no_election_concept_no_verdict(dialogue: Dialogue, question: str) -> None:
    reply = dialogue.answer(question)
    assert reply.verdict is None and reply.kind is ReplyKind.FALLBACK, reply


def test_a_question_about_elections_is_no_small_talk(mini: Dialogue) -> None:
    # "halo min, mohon izin bertanya …" may rank the greeting first; the question is answered
    chatty = reading(mini, [("sapaan", 0.9), ("like_postingan", 0.7)],
                     "halo min mohon izin bertanya, boleh like postingan calon?")
    reply = mini.decide(chatty)
    assert reply.kind is not ReplyKind.SMALLTALK and reply.intent == "like_postingan"
    greeting = reading(mini, [("sapaan", 0.9)], "halo min selamat pagi")
    assert mini.decide(greeting).kind is ReplyKind.SMALLTALK


def test_a_misspelt_concept_still_opens_the_gate(dialogue: Dialogue) -> None:
    # "kampamye" is no concept as written, but it is read as "kampanye" for matching
    reading = dialogue.read("sy pns boleh ikut kampamye gak?")
    assert dialogue._concepts.first(reading.words) is None
    assert dialogue.answer("sy pns boleh ikut kampamye gak?").verdict is Verdict.DILARANG


def test_the_pilkada_ban_on_transfers_is_in_scope(dialogue: Dialogue) -> None:
    reply = dialogue.answer("sk mutasi saya terbit di masa larangan, sah gak?")
    assert reply.kind is ReplyKind.ANSWER and reply.verdict is not None, reply


def test_a_sanction_in_a_personnel_question_does_not_open_the_gate(dialogue: Dialogue) -> None:
    # "hukdis" (hukuman disiplin) is in scope, unless the question is about a personnel matter
    hr = dialogue.answer("asn yang lagi jalanin hukdis ringan bisa naik pangkat gak?")
    assert hr.kind is ReplyKind.FALLBACK and hr.verdict is None, hr
    sanction = dialogue.answer("hukdis sedang tu isinya apa aja sih?")
    assert sanction.kind is ReplyKind.ANSWER and sanction.verdict is Verdict.INFO, sanction
    # the ASN law holds the neutrality duty: a question about it is in scope
    law = dialogue.answer("uu asn nomor 20 tahun 2023 itu mulai berlaku kapan ya?")
    assert law.kind is ReplyKind.ANSWER and law.verdict is Verdict.INFO, law
    # an election concept keeps it in scope whatever else it names
    campaign = dialogue.answer("pns ikut kampanye pas jam kerja, sanksinya apa?")
    assert campaign.kind is ReplyKind.ANSWER, campaign


def test_out_of_scope_reply_is_polite_and_says_where_to_ask(dialogue: Dialogue) -> None:
    for question in ("berapa lama cuti besar pns, dan syaratnya apa saja?",
                     "besok rapat koordinasi jam berapa ya"):
        reply = dialogue.answer(question)
        assert reply.kind is ReplyKind.FALLBACK and reply.verdict is None, question
        assert "BKPSDM" in reply.text, question
    assert dialogue.out_of_scope().text == OUT_OF_SCOPE


def test_voter_administration_goes_to_kpu(dialogue: Dialogue) -> None:
    reply = dialogue.answer("gimana cara cek nama saya udah masuk DPT apa belum?")
    assert reply.verdict is None and reply.intent == "administrasi_pemilih"
    assert "KPU" in reply.text


# -- question types ---------------------------------------------------------------------------
def test_why_question_is_answered_from_the_why_facet(mini: Dialogue) -> None:
    reply = mini.answer("kenapa sih pns gak boleh like postingan calon?")
    assert reply.intent == "like_postingan" and reply.verdict is Verdict.INFO
    assert "Aturannya: dilarang" in reply.text
    assert "tanda dukungan" in reply.text


def test_sanction_question_is_answered_from_the_sanction_facet(mini: Dialogue) -> None:
    reply = mini.answer("kalau pns like postingan calon sanksinya apa?")
    assert reply.verdict is Verdict.INFO
    assert reply.text.index("Hukuman disiplin") < reply.text.index("Aturannya")


def test_timing_question_is_answered_by_the_rule_as_information(mini: Dialogue) -> None:
    reply = mini.answer("pns yg jadi anggota kpps itu dari kapan harus izin atasan?")
    assert reply.intent == "jadi_kpps" and reply.verdict is Verdict.INFO
    assert "Aturannya: boleh dengan syarat" in reply.text


def test_may_i_question_keeps_the_rule_verdict(mini: Dialogue) -> None:
    reply = mini.answer("apa saya kena sanksi kalau like postingan calon?")
    assert reply.verdict is Verdict.DILARANG


def test_who_the_asker_is_asks_for_no_sanction(dialogue: Dialogue) -> None:
    # "…, status PNS." describes the asker; "gimana status PNS-nya?" asks what happens to one
    said = dialogue.answer("Sy guru SD, status PNS. Kemarin sy ikut kampanye paslon, boleh?")
    assert said.verdict is Verdict.DILARANG, said
    asked = dialogue.answer("pns ikut kampanye paslon, status PNS-nya gimana?")
    assert asked.verdict is Verdict.INFO, asked
    how = dialogue.answer("pns ikut kampanye paslon, sanksinya gimana?")
    assert how.verdict is Verdict.INFO, how


def test_what_a_rule_covers_is_answered_as_information(dialogue: Dialogue) -> None:
    listing = dialogue.answer("gaya foto pakai jari apa saja yang dilarang buat pns?")
    assert listing.intent == "pose_jari" and listing.verdict is Verdict.INFO, listing
    assert "Aturannya: dilarang" in listing.text
    may_i = dialogue.answer("boleh pose dua jari pas foto sama caleg?")
    assert may_i.verdict is Verdict.DILARANG, may_i


def test_question_types_come_from_the_kb(kb: KnowledgeBase) -> None:
    facets = {t.facet.value for t in kb.question_types if t.facet}
    assert {"why", "sanction", "basis", "rule"} <= facets
    assert "cara_lapor" in {t.intent for t in kb.question_types}


# -- conditions -------------------------------------------------------------------------------
def test_a_broken_condition_makes_the_answer_stricter(mini: Dialogue) -> None:
    kept = mini.answer("boleh gak pns jadi anggota kpps?")
    assert kept.verdict is Verdict.BERSYARAT
    broken = mini.answer("sy pns jadi anggota kpps, boleh gak pas bertugas ngajak pemilih "
                         "milih calon nomor 2?")
    assert broken.intent == "jadi_kpps" and broken.verdict is Verdict.DILARANG
    assert broken.text.startswith("⛔ DILARANG")
    assert "Mengarahkan pemilih" in broken.text


def test_kfold_expects_what_the_kb_means_for_a_phrasing(mini_kb: KnowledgeBase) -> None:
    # a phrasing that breaks its intent's condition expects the condition's verdict
    kpps = mini_kb.intents["jadi_kpps"]
    broken = "pns jadi kpps terus ajak pilih calon nomor 2 boleh"
    kb = replace(mini_kb, intents={**mini_kb.intents,
                                   kpps.id: replace(kpps, questions=(*kpps.questions, broken))})
    held = {" ".join(h.reading.words): h for h in kfold_readings(kb, k=2)
            if h.truth == kpps.id}
    assert held[" ".join(kb.normalizer.words(broken))].verdict is Verdict.DILARANG
    assert {h.verdict for h in held.values()} == {Verdict.BERSYARAT, Verdict.DILARANG}


def test_cue_phrases_match_in_order_with_small_gaps() -> None:
    normalizer = Normalizer(Lexicon())
    cues = Cues(["kena apa", "ajak pilih"], normalizer)
    assert cues.first(normalizer.words("kalau begitu kena apa")) == "kena apa"
    assert cues.first(normalizer.words("apa saya kena sanksi")) is None
    assert cues.first(normalizer.words("ajak warga untuk pilih dia")) == "ajak pilih"
    assert cues.first(normalizer.words("ajak warga kampung kami semua untuk pilih")) is None


def test_an_act_of_someone_the_asker_names_is_theirs() -> None:
    normalizer = Normalizer(Lexicon())
    cues = Cues(["saya share"], normalizer, possessors=["ayah"])
    assert cues.first(normalizer.words("ayah saya share poster calon")) is None
    assert cues.first(normalizer.words("saya share poster calon")) == "saya share"
    assert cues.first(normalizer.words("ayah saya share, saya share juga")) == "saya share"


def test_a_quoted_rule_is_not_the_askers_act(dialogue: Dialogue) -> None:
    normalizer = Normalizer(Lexicon())
    cues = Cues(["timses"], normalizer, rule_statements=["yang dilarang"])
    assert cues.first(normalizer.words("yang dilarang itu cuma jadi timses kan")) is None
    assert cues.first(normalizer.words("yang dilarang itu cuma pose, saya mau jadi timses")) \
        == "timses"
    # the quote ends where the asker goes on about themselves, within the five words too
    assert cues.first(normalizer.words("yang dilarang cuma posting, saya timses")) == "timses"
    assert cues.first(normalizer.words("yang dilarang cuma posting kalau timses")) == "timses"
    # the condition "jadi timses" of passive attendance is the rule quoted, not the asker's role
    reply = dialogue.answer("kata pak sekda yg gak boleh itu cuma jadi timses. jadi sy boleh "
                            "dateng ke kampanye akbar paslon?")
    assert reply.verdict is Verdict.BERSYARAT, reply


def test_a_stated_mitigation_reads_as_the_milder_sibling(dialogue: Dialogue) -> None:
    kept = dialogue.answer("foto bareng caleg pas kondangan tapi gak sy posting, aman?")
    assert (kept.intent, kept.verdict) == ("foto_tanpa_diposting", Verdict.BERSYARAT), kept
    # "boleh gak posting …" asks; its "gak" is no "tidak posting"
    asked = dialogue.answer("boleh gak posting foto bareng calon bupati?")
    assert asked.verdict is Verdict.DILARANG, asked
    # the sibling's own conditions still apply: a spectator in the candidate's shirt
    shirt = dialogue.answer("dtg kampanye cabup pake kaos paslon yg dibagiin, tp cuma nonton")
    assert (shirt.intent, shirt.verdict) == ("hadir_kampanye_pasif", Verdict.DILARANG), shirt


def test_a_question_about_a_rule_is_no_missing_permission(dialogue: Dialogue) -> None:
    # "tidak diizinkan" reads as "tidak boleh": as a cue it broke every "… tidak boleh …"
    # question about serving as KPPS; the condition now names the superior
    for question in ("katanya asn tidak boleh jadi kpps, bener?",
                     "yang tidak boleh itu kampanye, kalau sy jadi kpps di tps boleh?"):
        reply = dialogue.answer(question)
        assert (reply.intent, reply.verdict) == ("kpps_pps", Verdict.BERSYARAT), reply
    refused = dialogue.answer("sy pns jadi kpps tapi atasan tidak mengizinkan, gimana?")
    assert refused.verdict is Verdict.DILARANG, refused


def test_a_cue_opening_with_a_negation_is_not_the_question_word() -> None:
    normalizer = Normalizer(Lexicon())
    cues = Cues(["tidak posting", "jangan pilih calon"], normalizer, negations=["tidak", "jangan"],
                not_negations=["boleh tidak", "jangan pilih"])
    assert cues.first(normalizer.words("fotonya tidak posting kok")) == "tidak posting"
    assert cues.first(normalizer.words("boleh tidak posting foto")) is None
    # a not-negation the negation opens still counts: "jangan pilih …" steers votes
    assert cues.first(normalizer.words("bilang jangan pilih calon itu")) == "jangan pilih calon"


def test_an_order_to_the_asker_does_not_break_the_refusal(dialogue: Dialogue) -> None:
    # "suruh saya pasang/datang" is the order being refused, not the asker's own act
    for question in ("kadis nyuruh saya pasang stiker calon di warung, boleh saya tolak?",
                     "atasan suruh sy dateng ke syukuran paslon, boleh nolak kan?"):
        reply = dialogue.answer(question)
        assert reply.intent == "tolak_perintah_atasan" and reply.verdict is Verdict.BOLEH, reply
    done = dialogue.answer("kadis suruh pasang stiker calon, akhirnya saya pasang, gimana?")
    assert done.verdict is Verdict.DILARANG, done


def test_a_chat_form_in_a_question_has_the_cue_of_its_stem() -> None:
    normalizer = Normalizer(Lexicon())
    normalizer.learn_vocabulary(["ikut", "teriak", "kampanye"])
    cues = Cues(["ikut teriak", "kampanyein"], normalizer)

    def first(text: str) -> str | None:
        words = normalizer.words(text)
        return cues.first(words, normalizer.chat_words(words))

    assert first("sy ikut teriakin nama calon") == "ikut teriak"
    # a cue written as a chat form keeps its own meaning
    assert first("sy ikut kampanye") is None
    assert first("sy kampanyein bapak") == "kampanyein"


# -- long messages and input hygiene ---------------------------------------------------------
def test_long_chatty_message_is_read_whole(dialogue: Dialogue) -> None:
    background = ("Assalamualaikum min, mohon maaf mengganggu waktunya. Saya bekerja sebagai "
                  "staf di sebuah dinas kabupaten sudah hampir sepuluh tahun, dan selama ini "
                  "saya selalu berusaha mengikuti aturan kantor dengan baik. Di kantor kami "
                  "banyak sekali obrolan soal kegiatan akhir pekan dan arisan keluarga. ") * 2
    message = background + "Pertanyaan saya: boleh gak PNS like postingan caleg di instagram?"
    assert 600 < len(message) < MAX_INPUT_CHARS
    reply = dialogue.answer(message)
    assert reply.verdict is Verdict.DILARANG
    assert TOO_LONG_NOTE not in reply.text


def test_the_question_sentences_weigh_more_when_the_whole_message_reads_weakly(
        kb: KnowledgeBase, dialogue: Dialogue) -> None:
    message = ("Selamat pagi min, saya staf kecamatan, kemarin ada acara arisan keluarga besar di "
               "rumah mertua dan banyak saudara datang dari luar kota, ramai sekali sampai malam. "
               "Mau tanya, boleh gak PNS like postingan caleg di instagram?")
    whole = [s.intent for s in dialogue.matcher.rank(message, limit=8)]
    asked = [s.intent for s in dialogue.matcher.rank(message.split(". ")[-1], limit=8)]
    assert whole[:2] != asked[:2]

    def top(clear_reading: float) -> list[str]:
        # the whole message weighs alone when clear, the asking sentence alone when weak
        policy = replace(dialogue.policy, focus_weight=0.0, focus_weight_unclear=1.0,
                         clear_reading=clear_reading)
        return [s.intent for s in Dialogue(kb, dialogue.matcher, policy).read(message).ranked[:2]]

    assert top(clear_reading=0.0) == whole[:2]
    assert top(clear_reading=99.0) == asked[:2]


def test_the_question_after_intinya_decides_among_several(kb: KnowledgeBase,
                                                         dialogue: Dialogue) -> None:
    message = ("assalamualaikum min, sy perawat pns di puskesmas. bulan lalu ada caleg datang "
               "bagi sembako ke warga dan sy disuruh kepala puskesmas ikut foto bareng, fotonya "
               "dipajang di grup. sy juga pernah like postingan dia. intinya sy mau tanya, kalau "
               "lapor pelanggaran ke bawaslu caranya gimana?")
    assert _question_part(message) == (
        "sy mau tanya, kalau lapor pelanggaran ke bawaslu caranya gimana?", True)
    reply = dialogue.answer(message)
    assert reply.verdict is Verdict.INFO and reply.intent in ("cara_lapor", "syarat_laporan")
    # weighed like any asking sentence, the background (photo, like) leaves it unclear
    unmarked = replace(dialogue.policy, focus_weight_marked=dialogue.policy.focus_weight)
    assert Dialogue(kb, dialogue.matcher, unmarked).answer(message).verdict is not Verdict.INFO
    # "intinya" with next to nothing after it marks no question
    assert _question_part("x" * 200 + ". intinya gitu.")[1] is False


def test_very_long_message_says_it_was_cut(dialogue: Dialogue) -> None:
    reply = dialogue.answer("boleh pns like postingan caleg? " + "bla " * 2000)
    assert reply.text.startswith(TOO_LONG_NOTE)


def test_invisible_characters_and_lookalike_letters_are_cleaned() -> None:
    normalizer = Normalizer(Lexicon())
    spoofed = "bo\u200bleh foto b\u0430reng p\u0430slon \ufeffＰＮＳ"
    assert normalizer.clean(spoofed) == "boleh foto bareng paslon pns"


@pytest.mark.parametrize(("question", "not_read_as"), [
    ("apk caleg dipasang di taman kota", "aman"),       # a real word, not a typo of a KB word
    ("gambar editan seolah2 ngajak coblos", "sekolah"),  # an affixed word (se- + olah)
    ("posting tagar gerakan ganti presiden", "agar"),
    ("kerja jualan online pas kampanye", "jalan"),
])
def test_real_words_are_not_typo_corrected(dialogue: Dialogue, question: str,
                                           not_read_as: str) -> None:
    assert not_read_as not in dialogue.matcher.query_terms(question)


def test_colloquial_verb_forms_are_read_as_their_root(kb: KnowledgeBase) -> None:
    # chat drops "me-": nolak = menolak, masang = memasang, nindak = menindak
    terms = kb.normalizer.terms("sy nolak disuruh masang spanduk, bawaslu bisa nindak?")
    assert {"tolak", "pasang", "tindak"} <= set(terms)
    assert kb.normalizer.terms("marah") == ["marah"]  # a real word is never re-read


def test_typos_are_still_corrected(dialogue: Dialogue) -> None:
    assert "kampanye" in dialogue.matcher.query_terms("boleh ikut kampnye caleg")


def test_smalltalk_and_redirects_still_work_behind_the_gate(mini: Dialogue) -> None:
    assert mini.answer("halo selamat pagi").kind is ReplyKind.SMALLTALK
    redirect = mini.answer("gaji pns naik kapan")
    assert redirect.intent == "gaji" and redirect.verdict is None


def test_policy_thresholds_are_ordered() -> None:
    policy = Policy()
    assert policy.clarify_threshold <= policy.agree_threshold <= policy.answer_threshold


def test_char_ngrams_are_scikit_learns() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.classifier import char_ngrams

    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    for text in ("boleh like postingan calon", "a di ke pns", "  dua   spasi  ", "x", ""):
        assert char_ngrams(text, 2, 5) == analyzer(text), text


def test_a_negated_cue_does_not_count() -> None:
    normalizer = Normalizer(Lexicon(replace={"gak": "tidak"}))
    cues = Cues(["ajak pilih", "kampanye", "ajak calon"], normalizer, negations=["tidak", "tanpa"])
    assert cues.first(normalizer.words("ajak tetangga ke tps tanpa ajak pilih calon")) is None
    assert cues.first(normalizer.words("itu gak dianggap kampanye kan")) is None
    assert cues.first(normalizer.words("boleh ajak warga pilih dia")) == "ajak pilih"
    # a negation in a cue's gap: "ajak … tanpa sebut calon" asks nobody to choose a candidate
    assert cues.first(normalizer.words("ajak warga tanpa sebut calon")) is None
    assert cues.first(normalizer.words("ajak warga sebut calon")) == "ajak calon"


def test_past_acts_are_not_negated(kb: KnowledgeBase) -> None:
    # "pernah" is no negation ("tidak pernah" is "tidak" + "pernah"): a past act still counts
    cues = Cues(kb.partisan, kb.normalizer, kb.negations, kb.not_negations)
    assert cues.first(kb.normalizer.words("sy pernah dukung paslon 2 di ig")) is not None
    assert cues.first(kb.normalizer.words("sy tidak pernah dukung paslon 2")) is None


@pytest.mark.parametrize(("question", "partisan"), [
    ("boleh ngajak warga nyoblos ke tps tgl 14?", False),      # a call to vote
    ("boleh ngajak warga nyoblos paslon nomor 2?", True),       # a call to vote for someone
    ("sy ajak tetangga pilih dia aja, masalah?", True),
    ("guru bilang ke murid 'jangan pilih dia lagi'", True),    # steering away steers too
])
def test_a_call_to_vote_is_not_partisan_a_call_to_vote_for_someone_is(
        kb: KnowledgeBase, question: str, partisan: bool) -> None:
    cues = Cues(kb.partisan, kb.normalizer, kb.negations, kb.not_negations)
    assert (cues.first(kb.normalizer.words(question)) is not None) is partisan


def test_do_not_forget_is_no_negation(dialogue: Dialogue) -> None:
    # "jangan lupa coblos nomor 1" asks to vote for number 1: partisan, never a plain boleh
    reply = dialogue.answer("sy PNS, boleh kirim pesan ke grup warga 'jangan lupa coblos "
                            "nomor 1 ya'?")
    assert reply.verdict is not Verdict.BOLEH
    cues = Cues(["coblos nomor"], Normalizer(Lexicon()), negations=["jangan"],
                not_negations=["jangan lupa"])
    assert cues.first(["jangan", "lupa", "coblos", "nomor", "1"]) == "coblos nomor"
    assert cues.first(["jangan", "coblos", "nomor", "1"]) is None


def test_where_to_report_is_answered_by_the_reporting_intent(mini: Dialogue) -> None:
    reply = mini.answer("teman saya pns like postingan calon terus, lapornya ke mana ya?")
    assert reply.intent == "cara_lapor" and reply.verdict is Verdict.INFO
    assert reply.buttons[0].intent == "like_postingan"
