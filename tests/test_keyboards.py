"""Which buttons come with which reply (issue 9): no topic menu under small talk, and a
fallback offers the three topics nearest to the question plus "Semua topik" (on Telegram:
tests/test_formatting.py)."""

from __future__ import annotations

import pytest

from bot import replies
from bot.dialogue import NEAREST_TOPICS, Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import Action, ActionKind, ReplyKind

ALL_TOPICS = Action(ActionKind.TOPICS)


@pytest.mark.parametrize("text", ["makasih", "halo", "terima kasih ya min"])
def test_small_talk_has_no_topic_menu(dialogue: Dialogue, text: str) -> None:
    reply = dialogue.answer(text)
    assert reply.kind is ReplyKind.SMALLTALK and reply.buttons == (), text


def test_a_fallback_offers_the_nearest_topics_and_all_topics(dialogue: Dialogue,
                                                             kb: KnowledgeBase) -> None:
    reading = dialogue.read("pns foto like status kampanye")
    reply = dialogue.fallback(reading)
    *nearest, last = reply.buttons
    assert last.action == ALL_TOPICS and last.label == replies.ALL_TOPICS
    expected: list[str] = []
    for scored in reading.ranked:
        topic = kb.intents[scored.intent].topic
        if topic not in expected and not kb.topics[topic].hidden:
            expected.append(topic)
    assert [c.action for c in nearest] == [Action(ActionKind.TOPIC, t)
                                           for t in expected[:NEAREST_TOPICS]]
    assert len(nearest) == NEAREST_TOPICS


def test_a_message_about_nothing_known_gets_only_all_topics(dialogue: Dialogue) -> None:
    for reply in (dialogue.fallback(), dialogue.out_of_scope(), dialogue.answer("resep rendang")):
        assert [c.action for c in reply.buttons] == [ALL_TOPICS]


def test_no_fallback_carries_the_whole_menu(dialogue: Dialogue, kb: KnowledgeBase) -> None:
    menu = len([t for t in kb.topics.values() if not t.hidden])
    for text in ("qwerty zxcvb plugh pemilu", "pns foto like status kampanye", "resep rendang",
                 "", "mau tanya dong min"):
        reply = dialogue.answer(text)
        assert len(reply.buttons) <= NEAREST_TOPICS + 1 < menu, text
