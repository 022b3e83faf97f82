"""Normalisation: case, punctuation, elongation, slang, numbers, protected words, affixes."""

from __future__ import annotations

import pytest

from bot.normalize import Lexicon, Normalizer


@pytest.fixture
def normalizer() -> Normalizer:
    lexicon = Lexicon(
        replace={"pppk": "pppk", "p3k": "pppk",
                 "gak": "tidak", "ga": "tidak", "yg": "yang", "pns": "asn", "cagub": "calon",
                 "ig": "instagram", "bgt": "banget", "gmn": "gimana"},
        phrases={"pasangan calon": "paslon", "tim sukses": "timses"},
        numbers={"dua": "2", "tiga": "3"},
        filler=frozenset({"yang", "sih", "min", "gimana"}),
        protected=frozenset({"tidak", "boleh", "jangan", "harus", "belum", "sudah"}),
        no_stem=frozenset({"pasangan", "desain", "masalah"}),
    )
    n = Normalizer(lexicon)
    n.learn_vocabulary(["foto", "posting", "pilih", "ikut", "dukung", "pasang", "sebar", "desa",
                        "kampanye", "share", "turun", "pasang", "masa", "masalah",
                        "pasangan"])
    return n


def test_case_punctuation_and_elongation(normalizer: Normalizer) -> None:
    assert normalizer.tokens("BOLEHHH gak sih?!!") == ["boleh", "tidak", "sih"]


def test_lexicon_words_are_not_collapsed_or_split(normalizer: Normalizer) -> None:
    # "pppk" is a word, not an elongation; "p3k" is a word, not letters around a number
    assert normalizer.tokens("PPPK dan P3K") == ["pppk", "dan", "pppk"]


def test_slang_and_abbreviations(normalizer: Normalizer) -> None:
    assert normalizer.tokens("pns yg like ig cagub gmn") == [
        "asn", "yang", "like", "instagram", "calon", "gimana"]


def test_a_word_can_mean_something_else_before_a_number() -> None:
    normalizer = Normalizer(Lexicon(replace={"pp": "foto profil"}, before_number={"pp": "pp"}))
    assert normalizer.tokens("ganti pp") == ["ganti", "foto", "profil"]
    assert normalizer.tokens("PP 94/2021 pasal 5") == ["pp", "94", "2021", "pasal", "5"]
    assert normalizer.tokens("ganti pp") == normalizer.tokens("ganti pp.")


def test_phrases_are_joined(normalizer: Normalizer) -> None:
    assert normalizer.tokens("foto dengan pasangan calon dan tim sukses") == [
        "foto", "dengan", "paslon", "dan", "timses"]


def test_number_words_and_digits_split_from_letters(normalizer: Normalizer) -> None:
    assert normalizer.tokens("pose dua jari") == ["pose", "2", "jari"]
    assert normalizer.tokens("angkat3jari") == ["angkat", "3", "jari"]


def test_reduplication_marker(normalizer: Normalizer) -> None:
    assert normalizer.tokens("bagi2 sembako rame2") == ["bagi", "sembako", "rame"]
    # a "2" that starts a year is no reduplication
    assert normalizer.tokens("pilkada2024") == ["pilkada", "2024"]


def test_camel_case_hashtags_are_split(normalizer: Normalizer) -> None:
    assert normalizer.tokens("#LanjutkanPakBupati") == ["lanjutkan", "pak", "bupati"]
    assert normalizer.tokens("PPPK BKPSDM") == ["pppk", "bkpsdm"]  # capitals alone stay whole


def test_verdict_words_are_never_dropped(normalizer: Normalizer) -> None:
    terms = normalizer.terms("sudah boleh belum, jangan, harus, gak sih min")
    for word in ("sudah", "boleh", "belum", "jangan", "harus", "tidak"):
        assert word in terms
    assert "sih" not in terms and "min" not in terms


def test_stemming_only_to_known_words(normalizer: Normalizer) -> None:
    assert normalizer.terms("memposting postingan diposting") == ["posting"] * 3
    assert normalizer.terms("memilih pilihan") == ["pilih", "pilih"]
    assert normalizer.terms("mengikuti dukungan menyebarkan") == ["ikut", "dukung", "sebar"]
    # unknown words stay as they are; protected and no_stem words are not stemmed
    assert normalizer.terms("rendang pasangan") == ["rendang", "pasangan"]
    # a no_stem word reached by stripping ends it: "pasangannya" is no "pasang"
    assert normalizer.terms("pasangannya masalahnya") == ["pasangan", "masalah"]


def test_chat_forms_are_read_as_their_stem_for_matching_only(normalizer: Normalizer) -> None:
    # "-in" for "-kan"/"-i" and "nge-": matched as the stem ...
    assert normalizer.terms("diturunin ngeshare dipasangin") == ["turun", "share", "pasang"]
    # ... while cue phrases see the form as written ("kampanyein": campaign for someone)
    terms, words = normalizer.terms_and_words("kampanyein")
    assert terms == ["kampanye"] and words == ["kampanyein"]
    # only to a known stem, and never a no_stem word ("desain" is no "desa")
    assert normalizer.terms("desain kemarin") == ["desain", "kemarin"]


def test_a_chat_form_of_a_filler_word_is_a_cue_word_but_no_term() -> None:
    # "jadiin rumah posko": cues see "jadi" ("jadi posko"); matching drops it like "jadi"
    normalizer = Normalizer(Lexicon(filler=frozenset({"jadi"})))
    normalizer.learn_vocabulary(["rumah", "posko"])
    terms, words = normalizer.terms_and_words("jadiin rumah posko")
    assert normalizer.chat_words(words) == ["jadi", "rumah", "posko"]
    assert terms == ["rumah", "posko"]


def test_accents_emoji_and_other_scripts(normalizer: Normalizer) -> None:
    assert normalizer.tokens("fóto 🙏🙏") == ["foto"]
    assert normalizer.tokens("选举 выборы") == []


def test_the_kbs_phrasings_are_tokenised_once_and_users_texts_not_kept() -> None:
    normalizer = Normalizer(Lexicon(replace={"gak": "tidak"}))
    normalizer.keep_tokens(["boleh gak foto"])
    assert normalizer.tokens("boleh gak foto") == ["boleh", "tidak", "foto"]
    assert normalizer.tokens("sy gak mau") == ["sy", "tidak", "mau"]
    assert list(normalizer._kept) == ["boleh gak foto"]  # a user's message is not kept
