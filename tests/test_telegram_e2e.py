"""End to end: the real PTB Application polls a local fake Bot API; we assert on what it received.

No handler is called directly and nothing is mocked inside the process: updates go in through
`getUpdates`, replies come out as HTTP calls the fake server records. The knowledge base and the
SQLite file are real; time is a `ManualClock`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot import replies
from bot.channels.telegram.application import build_application, webhook_options
from bot.channels.telegram.sender import telegram_sender
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import Channel, ChatRef, ReplyKind
from bot.services import build_services
from tests.conftest import ROOT
from tests.fake_bot_api import BOT_USERNAME, FakeBotApi, server_error
from tests.telegram_harness import Harness, ManualClock, fresh_bot, settings_for

USER = 1001
OTHER = 1002
GROUP = -100500
FOTO_QUESTION = "boleh gak pns foto bareng paslon?"
CLARIFY_CANDIDATES = ("boleh gak pns ikut acara calon", "boleh like?", "medsos", "jadwal",
                      "boleh gak asn hadir", "asn boleh like",
                      "atasan maksa saya ikut kampanye, boleh saya tolak?",
                      "Aku dimasukin grup wa relawan paslon tanpa izin, boleh langsung left aja "
                      "kan?", "kepsek suruh guru pasang stiker calon, boleh?",
                      "atasan suruh dukung paslon 2, gimana")


@pytest.fixture
async def bot(fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue,
              tmp_path: Path) -> AsyncIterator[Harness]:
    """The running bot with a fresh SQLite file."""
    async with fresh_bot(fake_api, kb, dialogue, tmp_path) as harness:
        yield harness


@pytest.fixture
async def strict_bot(fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue,
                     tmp_path: Path) -> AsyncIterator[Harness]:
    """The running bot with a flood limit of 5 messages a minute."""
    async with fresh_bot(fake_api, kb, dialogue, tmp_path, flood_limit_per_minute=5) as harness:
        yield harness


@pytest.fixture(scope="session")
def clarify_question(dialogue: Dialogue) -> str:
    """A question the real knowledge base answers with a clarification."""
    for question in CLARIFY_CANDIDATES:
        if dialogue.answer(question).kind is ReplyKind.CLARIFY:
            return question
    pytest.fail(f"none of {CLARIFY_CANDIDATES} yields a clarification any more; add one")


async def test_start_greets_with_disclaimer_and_sets_the_menu(bot: Harness) -> None:
    greeting = await bot.command(USER, "mulai")
    assert greeting.text == replies.TG_WELCOME
    assert "bukan keputusan hukum" in greeting.text
    assert (await bot.command(USER, "start")).text == replies.TG_WELCOME
    menu = [c["command"] for c in bot.api.commands()]
    assert menu[:3] == ["mulai", "topik", "ikrar"] and "hapusdata" in menu
    help_text = (await bot.command(USER, "bantuan")).text
    assert "/langganan" in help_text and f"@{BOT_USERNAME}" in help_text


async def test_a_question_is_answered_verdict_first_with_buttons(bot: Harness) -> None:
    answer = await bot.ask(USER, FOTO_QUESTION)
    assert answer.text.startswith("⛔ DILARANG")
    data = answer.button_data()
    assert "f:1:foto_bersama_calon" in data and "f:0:foto_bersama_calon" in data
    assert any(d.startswith("a:") for d in data)  # related questions
    assert "👍 Membantu" in answer.button_labels()
    assert bot.services.store.totals() == {"questions": 1, "answers": 1}


async def test_related_button_answers_that_question(bot: Harness) -> None:
    answer = await bot.ask(USER, FOTO_QUESTION)
    related = next(d for d in answer.button_data() if d.startswith("a:"))
    calls = await bot.press(answer, related)
    assert [c.method for c in calls] == ["answerCallbackQuery", "sendMessage"]
    intent = bot.services.kb.intents[related[2:]]
    assert intent.title in calls[1].text


async def test_clarification_answered_by_pressing_a_button(bot: Harness,
                                                           clarify_question: str) -> None:
    clarify = await bot.ask(USER, clarify_question)
    assert clarify.text == replies.CLARIFY_PROMPT
    assert clarify.button_labels()[-1] == replies.NONE_OF_THESE
    assert clarify.button_data()[-1] == "n"
    choice = clarify.button_data()[0]
    calls = await bot.press(clarify, choice)
    answer = calls[-1]
    intent = bot.services.kb.intents[choice.removeprefix("a:")]
    assert answer.method == "sendMessage" and intent.title in answer.text
    assert f"f:0:{intent.id}" in answer.button_data()
    assert bot.services.store.totals()["clarify"] == 1


async def test_none_of_these_logs_the_question_and_offers_topics(bot: Harness,
                                                                 clarify_question: str) -> None:
    clarify = await bot.ask(USER, clarify_question)
    reply = (await bot.press(clarify, "n"))[-1]
    assert reply.text == replies.NONE_OF_THESE_REPLY
    assert all(d.startswith("t:") for d in reply.button_data())
    misses = bot.services.store.recent_misses()
    assert [(m["text"], m["kind"]) for m in misses] == [(clarify_question, "none_of_these")]


async def test_thumbs_down_is_stored_and_logged_and_the_buttons_go(bot: Harness) -> None:
    answer = await bot.ask(USER, FOTO_QUESTION)
    calls = await bot.press(answer, "f:0:foto_bersama_calon")
    toast, edit = calls
    assert toast.method == "answerCallbackQuery" and toast.text == replies.TG_FEEDBACK_NOTED
    assert edit.method == "editMessageReplyMarkup"
    assert not any(d.startswith("f:") for d in edit.button_data())
    assert any(d.startswith("a:") for d in edit.button_data())
    rows = list(bot.services.store.db["feedback"].rows)
    assert [(r["chat_id"], r["intent"], r["useful"]) for r in rows] == [
        (str(USER), "foto_bersama_calon", 0)]
    assert bot.services.store.recent_misses()[0]["text"] == FOTO_QUESTION


async def test_fallback_shows_topics_and_is_logged(bot: Harness) -> None:
    reply = await bot.ask(USER, "qwerty zxcvb plugh")
    assert reply.text == replies.FALLBACK
    *nearest, all_topics = reply.button_data()  # the topics nearest to it, "Semua topik"
    assert all(d.startswith("t:") for d in nearest) and all_topics == "ts"
    assert bot.services.store.recent_misses()[0]["kind"] == "fallback"


async def test_topic_menu_leads_to_questions_and_answers(bot: Harness) -> None:
    menu = await bot.command(USER, "topik")
    assert "t:foto" in menu.button_data()
    topic = (await bot.press(menu, "t:foto"))[-1]
    first = topic.button_data()[0]
    assert first.startswith("a:")
    answer = (await bot.press(topic, first))[-1]
    assert bot.services.kb.intents[first[2:]].title in answer.text


async def test_lapor_jadwal_and_tentang(bot: Harness) -> None:
    report = await bot.command(USER, "lapor")
    assert bot.services.kb.intents["cara_lapor"].title in report.text
    schedule = await bot.command(USER, "jadwal")
    assert schedule.text
    since = bot.api.mark()
    await bot.command(USER, "tentang")
    sent = bot.api.sent(USER, since)
    assert len(sent) == 1  # one chat message: regulations listed, news and statements counted
    about = sent[0].text or ""
    assert "Sumber (" in about and "Terakhir ditinjau" in about
    assert "UU 20/2023" in about and "Berita " in about


async def test_subscribe_with_a_region_then_stop(bot: Harness) -> None:
    prompt = await bot.command(USER, "langganan")
    assert len(prompt.buttons()) == len(bot.services.kb.regions) + 1
    assert prompt.button_data()[-1] == "r:all"
    edit = (await bot.press(prompt, "r:jatim"))[-1]
    assert edit.method == "editMessageText" and "Jawa Timur" in edit.text
    state = bot.services.store.chat(ChatRef.telegram(USER))
    assert state is not None and state.region == "jatim" and state.subscribed
    assert bot.services.store.subscribers("jatim") == [ChatRef.telegram(USER)]
    assert (await bot.command(USER, "berhenti")).text == replies.TG_UNSUBSCRIBED
    assert bot.services.store.subscribers() == []


async def test_pledge_twice_counts_once(bot: Harness) -> None:
    pledge = await bot.command(USER, "ikrar")
    assert pledge.button_data() == ["p"]
    first = (await bot.press(pledge, "p"))[-1]
    assert "tercatat pada 20 September 2024 pukul 10.00 WIB" in first.text
    bot.clock.advance(hours=2)
    second = (await bot.press(pledge, "p"))[-1]
    assert "sudah tercatat sebelumnya pada 20 September 2024 pukul 10.00 WIB" in second.text
    assert bot.services.store.pledge_count() == 1


async def test_hapusdata_deletes_everything_about_the_chat(bot: Harness) -> None:
    prompt = await bot.command(USER, "langganan")
    await bot.press(prompt, "r:dki")
    await bot.press(await bot.command(USER, "ikrar"), "p")
    await bot.press(await bot.ask(USER, FOTO_QUESTION), "f:1:foto_bersama_calon")
    await bot.press(await bot.command(OTHER, "langganan"), "r:dki")

    confirm = await bot.command(USER, "hapusdata")
    assert confirm.button_data() == ["d:y", "d:n"]
    done = (await bot.press(confirm, "d:y"))[-1]
    assert done.method == "editMessageText" and done.text == replies.TG_DELETED
    store = bot.services.store
    assert store.chat(ChatRef.telegram(USER)) is None
    assert store.pledge_count() == 0
    assert store.db["feedback"].count == 0
    assert store.subscribers() == [ChatRef.telegram(OTHER)]
    assert bot.app.chat_data[USER] == {}


async def test_hapusdata_can_be_cancelled(bot: Harness) -> None:
    await bot.press(await bot.command(USER, "langganan"), "r:dki")
    cancelled = (await bot.press(await bot.command(USER, "hapusdata"), "d:n"))[-1]
    assert cancelled.text == replies.TG_DELETE_CANCELLED
    assert bot.services.store.subscribers() == [ChatRef.telegram(USER)]


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document"])
async def test_non_text_gets_a_polite_please_type(bot: Harness, kind: str) -> None:
    since = bot.api.mark()
    update_id = bot.api.send_media(USER, kind)
    await bot.processed(update_id)
    assert [r.text for r in bot.api.sent(USER, since)] == [replies.TG_NON_TEXT]


async def test_blocked_user_stops_receiving_reminders(bot: Harness) -> None:
    await bot.press(await bot.command(USER, "langganan"), "r:jatim")
    since = bot.api.mark()
    await bot.processed(bot.api.member_status(USER, "kicked"))
    assert bot.services.store.subscribers() == []
    assert bot.services.store.chat(ChatRef.telegram(USER)).blocked
    await bot.processed(bot.api.member_status(USER, "member", old="kicked"))
    assert bot.services.store.subscribers() == [ChatRef.telegram(USER)]
    assert bot.api.sent(since=since) == []


async def test_unknown_user_who_blocks_is_not_stored(bot: Harness) -> None:
    await bot.processed(bot.api.member_status(OTHER, "kicked"))
    assert bot.services.store.chat(ChatRef.telegram(OTHER)) is None


async def test_group_answers_only_mentions_and_replies(bot: Harness) -> None:
    since = bot.api.mark()
    await bot.processed(bot.api.send_text(GROUP, FOTO_QUESTION, USER))
    await bot.processed(bot.api.send_media(GROUP, "sticker", USER))
    assert bot.api.sent(GROUP, since) == []

    mentioned = await bot.ask(GROUP, f"@{BOT_USERNAME} {FOTO_QUESTION}", USER)
    assert mentioned.text.startswith("⛔ DILARANG")
    assert mentioned.params["reply_parameters"]["message_id"] > 0  # quotes the asker

    since = bot.api.mark()
    update_id = bot.api.send_text(GROUP, "kalau pose dua jari?", OTHER, reply_to=mentioned.result)
    await bot.processed(update_id)
    assert len(bot.api.sent(GROUP, since)) == 1

    assert (await bot.command(GROUP, "mulai")).text == replies.TG_WELCOME


async def test_flood_guard_warns_once_then_ignores_and_spares_others(strict_bot: Harness) -> None:
    bot = strict_bot
    since = bot.api.mark()
    for n in range(5):
        await bot.processed(bot.api.send_text(USER, f"{FOTO_QUESTION} {n}"))
    assert len(bot.api.sent(USER, since)) == 5
    bot.api.send_text(USER, FOTO_QUESTION)  # the 6th message in a minute
    await bot.message(USER, since, contains="Pelan-pelan")
    bot.api.send_text(USER, FOTO_QUESTION)  # ignored while cooling down
    assert (await bot.ask(OTHER, FOTO_QUESTION)).text.startswith("⛔")  # others unaffected

    bot.clock.advance(seconds=61)
    assert (await bot.ask(USER, FOTO_QUESTION)).text.startswith("⛔")
    # One chat is handled in order, so the ignored message was done before this answer.
    assert len(bot.api.sent(USER, since)) == 7


async def test_one_bad_update_never_stops_the_bot(bot: Harness,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    bot.api.fail(server_error(502), method="sendMessage", chat_id=USER, times=2)
    since = bot.api.mark()
    with caplog.at_level(logging.ERROR, logger="bot.channels.telegram"):
        update_id = bot.api.send_text(USER, FOTO_QUESTION)
        await bot.processed(update_id)
    assert any("failed" in r.getMessage() for r in caplog.records)
    assert bot.api.token not in caplog.text
    assert [r.status for r in bot.api.requests("sendMessage", since)] == [502, 502]
    assert (await bot.ask(USER, FOTO_QUESTION)).text.startswith("⛔")


async def test_error_handler_apologises_in_the_chat(bot: Harness) -> None:
    bot.api.fail(server_error(500), method="sendMessage", chat_id=USER, times=1)
    since = bot.api.mark()
    update_id = bot.api.send_text(USER, FOTO_QUESTION)
    await bot.processed(update_id)
    assert [r.text for r in bot.api.sent(USER, since)] == [replies.TG_ERROR]


async def test_unknown_command_points_to_help(bot: Harness) -> None:
    assert (await bot.command(USER, "halo")).text == replies.TG_UNKNOWN_COMMAND


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_mode_registers_and_checks_the_secret(
        fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue, tmp_path: Path) -> None:
    port = _free_port()
    settings = settings_for(
        fake_api, tmp_path / "bot.sqlite3", webhook_url="https://bot.example.org/tg/hook",
        webhook_secret="s3cret-Token_1", webhook_listen="127.0.0.1", webhook_port=port)
    sender = telegram_sender(settings)
    services = build_services(settings, kb, senders={Channel.TELEGRAM: sender},
                              clock=ManualClock(), dialogue=dialogue)
    app = build_application(services, sender)
    update = {"update_id": 7, "message": fake_api.text_message(USER, FOTO_QUESTION)}
    hook = f"http://127.0.0.1:{port}/tg/hook"
    try:
        async with app:
            await app.start()
            await app.updater.start_webhook(**webhook_options(settings))
            try:
                registered = fake_api.requests("setWebhook")[-1].params
                assert registered["url"] == settings.webhook_url
                assert registered["secret_token"] == settings.webhook_secret
                async with httpx.AsyncClient() as client:
                    forged = await client.post(hook, json=update, headers={
                        "X-Telegram-Bot-Api-Secret-Token": "wrong"})
                    genuine = await client.post(hook, json=update, headers={
                        "X-Telegram-Bot-Api-Secret-Token": settings.webhook_secret})
                assert (forged.status_code, genuine.status_code) == (403, 200)
                reply = await asyncio.to_thread(fake_api.wait_for_message, USER)
                assert reply.text.startswith("⛔ DILARANG")
                assert len(fake_api.sent(USER)) == 1
            finally:
                await app.updater.stop()
                await app.stop()
    finally:
        services.store.close()


async def test_a_stale_button_is_answered_not_left_spinning(bot: Harness) -> None:
    menu = await bot.command(USER, "topik")
    calls = await bot.press(menu, "x:old-format")
    assert [(c.method, c.text) for c in calls] == [
        ("answerCallbackQuery", replies.TG_STALE_BUTTON)]


async def test_a_busy_chat_does_not_hold_up_the_others(bot: Harness) -> None:
    since = bot.api.mark()
    with bot.api.held():  # one getUpdates batch: 20 from the busy chat, then one from another
        for n in range(20):
            bot.api.send_text(USER, f"{FOTO_QUESTION} {n}")
        other = bot.api.send_text(OTHER, FOTO_QUESTION)
    await bot.processed(other)
    replies_in_order = [r.chat_id for r in bot.api.sent(since=since)]
    assert replies_in_order.index(OTHER) < 3, replies_in_order  # not after the busy chat's 20


async def test_data_commands_and_buttons_only_work_in_private_chats(bot: Harness) -> None:
    notice = replies.TG_PRIVATE_ONLY.format(username=BOT_USERNAME)
    await bot.press(await bot.command(USER, "langganan"), "r:dki")
    pledges = bot.services.store.pledge_count()
    group_answer = await bot.ask(GROUP, f"@{BOT_USERNAME} {FOTO_QUESTION}", USER)
    await bot.press(group_answer, "f:1:foto_bersama_calon", OTHER)  # the group's feedback row

    for command in ("langganan", "berhenti", "hapusdata"):
        reply = await bot.command(GROUP, command)
        assert (reply.text, reply.buttons()) == (notice, []), command
    pledge = await bot.command(GROUP, "ikrar")
    assert pledge.buttons() == [] and pledge.text.startswith(
        bot.services.dialogue.pledge_text())
    for data in ("r:dki", "r:all", "p", "d:y"):  # e.g. buttons from before the upgrade
        calls = await bot.press(pledge, data, OTHER)
        assert [(c.method, c.text) for c in calls] == [("answerCallbackQuery", notice)], data

    store = bot.services.store
    assert store.chat(ChatRef.telegram(GROUP)) is None
    assert store.subscribers() == [ChatRef.telegram(USER)]
    assert store.pledge_count() == pledges
    assert [r["chat_id"] for r in store.db["feedback"].rows] == [str(GROUP)]


def test_a_rejected_token_exits_2_and_never_shows_the_token(fake_api: FakeBotApi,
                                                            tmp_path: Path) -> None:
    wrong = "999999:WRONG-secret-token-abc"
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": wrong, "TELEGRAM_BASE_URL": fake_api.url,
           "DB_PATH": str(tmp_path / "bot.sqlite3"), "WEBHOOK_URL": "", "LOG_LEVEL": "DEBUG"}
    result = subprocess.run([sys.executable, "main.py", "run"], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN" in output
    assert wrong not in output and "WRONG-secret" not in output
