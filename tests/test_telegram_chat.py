"""Chat in Telegram under real use (issue 9): double taps, flood guard, edited messages,
captions, the typing indicator and forged callback data.

The real PTB Application polls the local fake Bot API (which answers "message is not modified"
to an edit that changes nothing, as Telegram does); SQLite is a real file, time a ManualClock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import replies
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from tests.fake_bot_api import FakeBotApi
from tests.telegram_harness import Harness, fresh_bot

USER = 2001
FOTO_QUESTION = "boleh gak pns foto bareng paslon?"


@pytest.fixture
async def bot(fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue,
              tmp_path: Path) -> AsyncIterator[Harness]:
    """The running bot with a flood limit of 5 a minute and a fresh SQLite file."""
    async with fresh_bot(fake_api, kb, dialogue, tmp_path, flood_limit_per_minute=5) as harness:
        yield harness


def _sent_texts(bot: Harness, since: int) -> list[str]:
    return [r.text or "" for r in bot.api.sent(USER, since)]


@pytest.mark.parametrize(("command", "data"), [("langganan", "r:jatim"), ("hapusdata", "d:n")])
async def test_a_double_tapped_button_is_no_error(bot: Harness, command: str, data: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    prompt = await bot.command(USER, command)
    since = bot.api.mark()
    with caplog.at_level(logging.ERROR):
        first = await bot.press(prompt, data)
        second = await bot.press(prompt, data)  # the message already shows the result
    edits = [c for c in second if c.method == "editMessageText"]
    assert [e.status for e in edits] == [400]  # Telegram: "message is not modified"
    assert [c.status for c in first if c.method == "editMessageText"] == [200]
    assert replies.TG_ERROR not in _sent_texts(bot, since)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_button_taps_and_messages_are_counted_apart(bot: Harness) -> None:
    menu = await bot.command(USER, "topik")
    since = bot.api.mark()
    for _ in range(8):  # an ordinary browse: more taps than the limit
        bot.api.press(menu, "t:foto")
    # Every tap is answered (a slowed one with an empty toast), so the spinner always stops.
    toasts = await asyncio.to_thread(bot.api.wait_for_count,
                                     lambda r: r.method == "answerCallbackQuery", 8, 10.0, since)
    assert [t.text for t in toasts].count(replies.TG_SLOW_DOWN) == 1  # told once
    assert (await bot.command(USER, "start")).text == replies.TG_WELCOME
    assert (await bot.command(USER, "berhenti")).text in (replies.TG_NOT_SUBSCRIBED,
                                                          replies.TG_UNSUBSCRIBED)


async def test_berhenti_and_hapusdata_are_never_held_back(bot: Harness) -> None:
    await bot.press(await bot.command(USER, "langganan"), "r:dki")
    since = bot.api.mark()
    for n in range(4):  # with /langganan, 5 messages
        await bot.processed(bot.api.send_text(USER, f"{FOTO_QUESTION} {n}"))
    bot.api.send_text(USER, FOTO_QUESTION)  # the 6th in a minute: warned
    await bot.message(USER, since, contains="Pelan-pelan")
    bot.api.send_text(USER, FOTO_QUESTION)  # cooling down: ignored
    # One chat's updates are handled in order: these come after the ignored one.
    assert (await bot.command(USER, "berhenti")).text == replies.TG_UNSUBSCRIBED
    confirm = await bot.command(USER, "hapusdata")
    assert confirm.button_data() == ["d:y", "d:n"]
    done = (await bot.press(confirm, "d:y"))[-1]
    assert done.text == replies.TG_DELETED
    assert _sent_texts(bot, since).count(replies.TG_SLOW_DOWN) == 1


async def test_an_edited_message_gets_an_answer_to_the_edited_text(bot: Harness) -> None:
    original = bot.api.text_message(USER, "qwerty zxcvb plugh")
    await bot.processed(bot.api.enqueue({"message": original}))
    since = bot.api.mark()
    await bot.processed(bot.api.edit_text(original, FOTO_QUESTION))
    answers = _sent_texts(bot, since)
    assert len(answers) == 1 and answers[0].startswith("⛔ DILARANG")


async def test_an_edited_command_is_not_run_again(bot: Harness) -> None:
    original = bot.api.text_message(USER, "/langganan")
    await bot.processed(bot.api.enqueue({"message": original}))
    since = bot.api.mark()
    bot.api.edit_text(original, "/hapusdata")
    assert (await bot.ask(USER, FOTO_QUESTION)).text.startswith("⛔")  # handled after the edit
    assert len(_sent_texts(bot, since)) == 1


async def test_a_photo_is_answered_from_its_caption(bot: Harness) -> None:
    since = bot.api.mark()
    await bot.processed(bot.api.send_media(USER, "photo", caption=FOTO_QUESTION))
    answers = _sent_texts(bot, since)
    assert len(answers) == 1 and answers[0].startswith("⛔ DILARANG")
    since = bot.api.mark()
    await bot.processed(bot.api.send_media(USER, "photo"))  # no caption: please type
    assert _sent_texts(bot, since) == [replies.TG_NON_TEXT]


async def test_typing_is_shown_before_the_answer(bot: Harness) -> None:
    since = bot.api.mark()
    await bot.ask(USER, FOTO_QUESTION)
    calls = [(r.method, r.params.get("action")) for r in bot.api.requests(since=since)
             if r.method in ("sendChatAction", "sendMessage")]
    assert calls == [("sendChatAction", "typing"), ("sendMessage", None)]


async def test_forged_feedback_data_is_not_stored(bot: Harness) -> None:
    answer = await bot.ask(USER, FOTO_QUESTION)
    for forged in ("f:0:no_such_intent", "f:1:" + "x" * 60, "f:0:foto_bersama_calon'--"):
        calls = await bot.press(answer, forged)
        assert [(c.method, c.text) for c in calls][:1] == [
            ("answerCallbackQuery", replies.TG_STALE_BUTTON)], forged
    store = bot.services.store
    assert store.db["feedback"].count == 0
    assert store.recent_misses() == []


async def test_hapusdata_says_what_it_erases_and_erases_the_users_question_texts(
        bot: Harness) -> None:
    other = USER + 1
    await bot.ask(USER, "qwerty zxcvb plugh")  # unanswered: logged for admins
    answer = await bot.ask(USER, FOTO_QUESTION)
    await bot.press(answer, "f:0:foto_bersama_calon")  # 👎: the question is logged too
    await bot.ask(other, "plugh xyzzy qwerty")
    store = bot.services.store
    assert len(store.recent_misses()) == 3
    assert all(set(m) == {"id", "text", "kind", "intent", "created_at"}
               for m in store.recent_misses())  # admins never see who asked

    confirm = await bot.command(USER, "hapusdata")
    for item in ("langganan", "ikrar", "👍/👎", "tidak terjawab", "pengingat",
                 "perintah admin"):
        assert item in confirm.text, item
    await bot.press(confirm, "d:y")
    assert [m["text"] for m in store.recent_misses()] == ["plugh xyzzy qwerty"]


async def test_id_replies_with_the_users_numeric_id(bot: Harness) -> None:
    reply = await bot.command(USER, "id")
    assert reply.text == replies.TG_YOUR_ID.format(user_id=USER)
    assert f": {USER}\n" in reply.text
    assert "id" not in [c["command"] for c in bot.api.commands()]  # not in the public menu
