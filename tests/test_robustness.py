"""Bad input never crashes and always gets a polite reply within Telegram's size limit."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dialogue import Dialogue
from bot.models import MAX_MESSAGE_CHARS, ReplyKind

NASTY = [
    "", " ", "\n\t  \r\n", "a" * 20_000, "boleh " * 4_000, "🙏😀🇮🇩" * 50, "选举可以吗？",
    "Можно ли госслужащему агитировать?", "\x00\x01\x02\x1b[31m", "May a civil servant campaign?",
    "?!?!?!", "1234567890", "<script>alert(1)</script>", "'; DROP TABLE chats; --",
]


def _check(dialogue: Dialogue, text: str) -> None:
    reply = dialogue.answer(text)
    assert isinstance(reply.kind, ReplyKind)
    assert reply.text.strip()
    assert len(reply.text) <= MAX_MESSAGE_CHARS


@pytest.mark.parametrize("text", NASTY)
def test_known_nasty_inputs(dialogue: Dialogue, text: str) -> None:
    _check(dialogue, text)


def test_non_indonesian_gets_no_verdict(dialogue: Dialogue) -> None:
    for text in ("选举可以吗？", "Можно ли госслужащему агитировать?", "🙏😀", ""):
        assert dialogue.answer(text).verdict is None


FIXTURE_OK = [HealthCheck.function_scoped_fixture]


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.text(max_size=3_000))
def test_any_text_gets_a_polite_reply(dialogue: Dialogue, text: str) -> None:
    _check(dialogue, text)


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.lists(st.sampled_from(["boleh", "asn", "foto", "like", "gak", "paslon", "kampanye",
                                 "🙏", "uang", "kades", "tidak", "jari", "?", "lapor"]),
                max_size=40))
def test_word_salad_in_domain(dialogue: Dialogue, words: list[str]) -> None:
    _check(dialogue, " ".join(words))
