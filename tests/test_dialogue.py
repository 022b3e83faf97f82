"""The answer contract: answer, clarify, fallback and smalltalk replies."""

from __future__ import annotations

from bot.dialogue import Context, Dialogue
from bot.models import MAX_MESSAGE_CHARS, ActionKind, ReplyKind, Verdict


def test_answer_opens_with_verdict_and_cites_sources(dialogue: Dialogue) -> None:
    reply = dialogue.answer("boleh gak sih pns foto bareng paslon?")
    assert reply.kind is ReplyKind.ANSWER
    assert reply.verdict is Verdict.DILARANG
    assert reply.text.startswith("⛔ DILARANG")
    assert reply.sources and all(s in dialogue.kb.sources for s in reply.sources)
    assert "Dasar:" in reply.text and "Sumber:" in reply.text
    assert 0 < reply.confidence <= 1


def test_misspelt_and_slang_question_still_answered(dialogue: Dialogue) -> None:
    reply = dialogue.answer("PNS BOLEHHH NGELIKE POSTINGAN IG CAGUB GAK???")
    assert reply.kind is ReplyKind.ANSWER
    assert reply.verdict is Verdict.DILARANG


def test_voting_is_allowed(dialogue: Dialogue) -> None:
    reply = dialogue.answer("apakah pns boleh ikut memilih di pilkada?")
    assert reply.verdict is Verdict.BOLEH


def test_out_of_scope_gets_no_verdict(dialogue: Dialogue) -> None:
    for question in ("resep rendang padang dong", "besok hujan nggak di surabaya",
                     "what is the capital of France?"):
        reply = dialogue.answer(question)
        assert reply.kind is ReplyKind.FALLBACK, question
        assert reply.verdict is None
        assert "netral" in reply.text.lower()


def test_fallback_offers_topics(dialogue: Dialogue) -> None:
    reply = dialogue.fallback(dialogue.read("pns foto like status"))
    *nearest, all_topics = reply.buttons
    assert nearest and all(b.action.kind is ActionKind.TOPIC for b in nearest)
    assert all_topics.action.kind is ActionKind.TOPICS
    assert "Bawaslu" in reply.text


def test_clarify_offers_choices_and_none_of_these(dialogue: Dialogue) -> None:
    ranked = dialogue.matcher.rank("boleh foto pose jari bareng timses kampanye")
    reply = dialogue._clarify(ranked[:3])
    assert reply.kind is ReplyKind.CLARIFY
    assert 2 <= len(reply.alternatives) <= 3
    assert reply.buttons[-1].action.kind is ActionKind.NONE_OF_THESE
    assert reply.verdict is None


def test_smalltalk_greeting(dialogue: Dialogue) -> None:
    reply = dialogue.answer("halo selamat pagi")
    assert reply.kind is ReplyKind.SMALLTALK
    assert reply.verdict is None


def test_follow_up_uses_context(dialogue: Dialogue) -> None:
    context = Context()
    first = dialogue.answer("apa sanksi asn yang tidak netral?", context)
    assert first.kind is ReplyKind.ANSWER
    assert context.last_intent == first.intent
    follow = dialogue.answer("kalau pppk?", context)
    assert follow.kind is ReplyKind.ANSWER


def test_buttons_and_topics(dialogue: Dialogue) -> None:
    menu = dialogue.topic_menu()
    first_topic = menu.buttons[0].action.arg
    topic = dialogue.topic(first_topic)
    assert topic.buttons
    answer = dialogue.answer_intent(topic.buttons[0].intent)
    assert answer.kind is ReplyKind.ANSWER
    assert dialogue.answer_intent("tidak_ada").kind is ReplyKind.FALLBACK
    assert dialogue.topic("tidak_ada").kind is ReplyKind.FALLBACK


def test_every_answer_fits_one_message(dialogue: Dialogue) -> None:
    for intent in dialogue.kb.intents:
        assert len(dialogue.answer_intent(intent).text) <= MAX_MESSAGE_CHARS


def test_pledge_text_has_four_points(dialogue: Dialogue) -> None:
    text = dialogue.pledge_text()
    assert "1. " in text and "4. " in text
    assert "politik uang" in text.lower()


def test_gibberish_after_a_question_is_not_read_as_a_follow_up(dialogue: Dialogue) -> None:
    context = Context()
    assert dialogue.answer("boleh foto bareng paslon?", context).kind is ReplyKind.ANSWER
    assert dialogue.answer("qwerty zxcvb asdfg", context).kind is ReplyKind.FALLBACK
