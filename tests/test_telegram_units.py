"""Pure pieces of the Telegram channel: callback data, keyboards, message splitting, log hygiene."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram.error import InvalidToken, NetworkError

from bot import replies
from bot.channels.telegram.keyboards import (
    MAX_CALLBACK_BYTES,
    callback_data,
    decode,
    encode,
    reply_markup,
)
from bot.channels.telegram.sender import TelegramSender, api_urls
from bot.chunks import split_message
from bot.conversation import MENU_COMMANDS
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import MAX_MESSAGE_CHARS, Action, ActionKind, Choice, Reply, ReplyKind
from bot.redaction import TokenRedactor
from bot.services import ALL_REGIONS
from tests.fake_bot_api import FakeBotApi, server_error


def _all_data(markup: object) -> list[str]:
    return [b.callback_data for row in markup.inline_keyboard for b in row]  # type: ignore[attr-defined]


# -- callback data ----------------------------------------------------------------------------
def test_every_real_button_fits_in_64_bytes(kb: KnowledgeBase, dialogue: Dialogue) -> None:
    data = [callback_data("f", "1", i) for i in kb.intents]
    data += [callback_data("r", r) for r in [*kb.regions, ALL_REGIONS]]
    for intent in kb.intents.values():
        markup = reply_markup(dialogue.reply_for(intent))
        data += _all_data(markup) if markup else []
    for topic in kb.topics:
        markup = reply_markup(dialogue.topic(topic))
        data += _all_data(markup) if markup else []  # a topic may have no intents yet
    data += _all_data(reply_markup(dialogue.topic_menu()))
    assert len(data) > len(kb.intents) * 2
    assert max(len(d.encode("utf-8")) for d in data) <= MAX_CALLBACK_BYTES


def test_callback_data_over_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        callback_data("a", "x" * 63)
    assert callback_data("a", "x" * 62) == "a:" + "x" * 62


def test_core_actions_map_to_compact_data_and_back() -> None:
    assert encode(Choice("Foto", "foto_bersama_calon").action) == "a:foto_bersama_calon"
    assert encode(Action(ActionKind.TOPIC, "foto")) == "t:foto"
    assert encode(Action(ActionKind.NONE_OF_THESE)) == "n"
    assert encode(Action(ActionKind.FEEDBACK_DOWN, "pose_jari")) == "f:0:pose_jari"
    assert encode(Action(ActionKind.ADMIN_CONFIRM, "12")) == "adm:ok:12"
    for kind in ActionKind:
        action = Action(kind, "x_1" if encode_takes_arg(kind) else "")
        assert decode(encode(action)) == action
    assert decode("zz:1") is None and decode("a:") is None and decode("p:extra") is None


def encode_takes_arg(kind: ActionKind) -> bool:
    try:
        encode(Action(kind))
    except ValueError:
        return True
    return encode(Action(kind)) != encode(Action(kind, "x"))


def test_answers_get_feedback_buttons_and_topics_come_in_pairs() -> None:
    answer = Reply(kind=ReplyKind.ANSWER, text="x", intent="a1",
                   buttons=(Choice("Lain", "a2"),))
    rows = reply_markup(answer).inline_keyboard
    assert [[b.callback_data for b in row] for row in rows] == [["a:a2"], ["f:1:a1", "f:0:a1"]]
    menu = Reply(kind=ReplyKind.FALLBACK, text="x",
                 buttons=tuple(Choice(f"T{n}", Action(ActionKind.TOPIC, f"t{n}"))
                               for n in range(3)))
    assert [len(row) for row in reply_markup(menu).inline_keyboard] == [2, 1]
    assert reply_markup(Reply(kind=ReplyKind.SMALLTALK, text="x")) is None


def test_every_menu_command_has_an_indonesian_description() -> None:
    assert set(MENU_COMMANDS) == set(replies.TG_COMMAND_MENU)
    assert all(name.isascii() and name.islower() and len(name) <= 32 for name in MENU_COMMANDS)


# -- base url -----------------------------------------------------------------------------
@pytest.mark.parametrize("base", ["http://127.0.0.1:8081", "http://127.0.0.1:8081/",
                                  "http://127.0.0.1:8081/bot", " http://127.0.0.1:8081/bot/ "])
def test_base_url_accepts_a_server_root_or_its_bot_path(base: str) -> None:
    assert api_urls(base) == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")


# -- splitting ------------------------------------------------------------------------------
def test_short_text_is_one_message() -> None:
    assert split_message("halo") == ["halo"]
    assert split_message("") == [""]


def test_long_text_splits_on_paragraphs() -> None:
    paragraphs = [f"Paragraf {n}. " + "kata " * 150 for n in range(20)]
    parts = split_message("\n\n".join(p.strip() for p in paragraphs))
    assert len(parts) > 1
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in parts)
    assert all(p.startswith("Paragraf") for p in parts)  # no paragraph was cut in two


def test_a_giant_paragraph_splits_on_lines_then_words_then_characters() -> None:
    assert split_message("aaaa\nbbbb", limit=5) == ["aaaa", "bbbb"]
    assert split_message("aa bb cc", limit=5) == ["aa bb", "cc"]
    assert split_message("abcdefghij", limit=4) == ["abcd", "efgh", "ij"]


@given(st.text(alphabet=st.sampled_from("ab \n✅"), max_size=400),
       st.integers(min_value=1, max_value=60))
def test_splitting_keeps_every_visible_character_in_order(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())


# -- logs -------------------------------------------------------------------------------------
def test_the_token_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    token = "987654:SECRET-token"
    log = logging.getLogger("test.redaction")
    caplog.handler.addFilter(TokenRedactor(token))
    try:
        with caplog.at_level(logging.INFO, logger="test.redaction"):
            log.info("calling %s", f"https://api.telegram.org/bot{token}/getMe")
            try:
                raise RuntimeError(f"failed https://api.telegram.org/bot{token}/sendMessage")
            except RuntimeError:
                log.exception("boom")
    finally:
        caplog.handler.filters.clear()
    assert token not in caplog.text
    assert "bot<token>/getMe" in caplog.text and "bot<token>/sendMessage" in caplog.text


# -- start-up -----------------------------------------------------------------------------------
def _sender(api: FakeBotApi, token: str | None = None, attempts: int = 4) -> TelegramSender:
    return TelegramSender(token or api.token, *api_urls(api.url), start_attempts=attempts,
                          start_backoff=0)


async def test_sender_start_retries_a_short_network_error(fake_api: FakeBotApi) -> None:
    fake_api.fail(server_error(502), method="getMe", times=2)
    sender = _sender(fake_api)
    await sender.start()
    try:
        assert [r.status for r in fake_api.requests("getMe")] == [502, 502, 200]
    finally:
        await sender.stop()


async def test_sender_start_gives_up_with_a_clear_log_line(
        fake_api: FakeBotApi, caplog: pytest.LogCaptureFixture) -> None:
    fake_api.fail(server_error(502), method="getMe", times=None)
    sender = _sender(fake_api, attempts=3)
    with caplog.at_level(logging.WARNING), pytest.raises(NetworkError):
        await sender.start()
    await sender.stop()
    assert len(fake_api.requests("getMe")) == 3
    assert "after 3 attempts; giving up" in caplog.text


async def test_sender_start_never_retries_a_rejected_token(
        fake_api: FakeBotApi, caplog: pytest.LogCaptureFixture) -> None:
    sender = _sender(fake_api, token="999999:WRONG-token")
    with caplog.at_level(logging.WARNING), pytest.raises(InvalidToken):
        await sender.start()
    await sender.stop()
    assert "retrying" not in caplog.text
