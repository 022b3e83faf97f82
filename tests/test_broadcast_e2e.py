"""Broadcasts and admin commands end to end: the real PTB Application against the fake Bot API.

The admin types commands and presses buttons as updates through `getUpdates`; broadcasts leave
through the `TelegramSender` (its own Bot) as HTTP calls the fake server records, with 429s,
5xx and blocked users injected there. Time is a `ManualClock` set after the real clock (so
APScheduler's real-time date jobs never fire by themselves): a test moves it and calls
`scheduler.sync`, which is what the date job does at its time. Pacing is not the subject here,
so `BROADCAST_RATE` is high; the benchmark measures it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path

import pytest
from telegram import Bot

from bot import replies
from bot.admin import ADMIN_COMMANDS
from bot.broadcasts import Outcome
from bot.channels.telegram.sender import TelegramSender, api_urls
from bot.config import Settings
from bot.conversation import parse_command
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import BroadcastStatus, Channel, ChatRef, DeliveryStatus
from bot.pace import Pace, channel_limits
from tests.conftest import KNOWLEDGE_DIR
from tests.fake_bot_api import (
    ApiError,
    FakeBotApi,
    blocked_by_user,
    chat_not_found,
    server_error,
    too_many_requests,
)
from tests.telegram_harness import Harness, ManualClock, running_bot, settings_for

ADMIN = 900
STRANGER = 4242
GROUP = -100777
START = dt.datetime(2031, 3, 2, 1, 0, tzinfo=dt.UTC)  # 08.00 WIB, after the real clock
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
FIRST_SUBSCRIBER = 50_000
FOTO_QUESTION = "boleh gak pns foto bareng paslon?"


def settings(api: FakeBotApi, tmp_path: Path, **overrides: object) -> Settings:
    """Settings for these tests: one admin, a fast pace, a private SQLite file."""
    return settings_for(api, tmp_path / "bot.sqlite3",
                        **{"admin_ids": frozenset({ADMIN}), "broadcast_rate": 1000.0,
                           **overrides})


@pytest.fixture
async def bot(fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue,
              tmp_path: Path) -> AsyncIterator[Harness]:
    """The running bot with its scheduler, on a manual clock ahead of the real one."""
    async with running_bot(fake_api, kb, settings(fake_api, tmp_path), ManualClock(START),
                           dialogue) as harness:
        yield harness


def subscribe(bot: Harness, count: int) -> list[int]:
    """Subscribe `count` chats to all of Indonesia (as /langganan would) and return their ids."""
    chats = list(range(FIRST_SUBSCRIBER, FIRST_SUBSCRIBER + count))
    for chat_id in chats:
        bot.services.store.subscribe(ChatRef.telegram(chat_id), None, bot.clock())
    return chats


def copy_of(text: str) -> str:
    """What a Telegram subscriber receives for a broadcast of `text` (header, stop line)."""
    return replies.broadcast_copy(text, Channel.TELEGRAM, Settings().broadcast_sender)


def last_report(api: FakeBotApi, broadcast_id: int, since: int = 0) -> str:
    """The admin's latest report of a broadcast: a new message, or the progress one edited."""
    reports = [r.text or "" for r in api.requests(since=since)
               if r.ok and r.method in ("sendMessage", "editMessageText")
               and r.chat_id == ADMIN and (r.text or "").startswith(f"📣 Siaran #{broadcast_id}")]
    return reports[-1]


def copies(api: FakeBotApi, text: str) -> Counter[int]:
    """How many copies of `text` each chat received (successful sendMessage calls)."""
    return Counter(r.chat_id for r in api.sent() if r.text == copy_of(text))


async def schedule(bot: Harness, command: str) -> tuple[str, str]:
    """Send an admin's /siaran, press ✅ under the preview; return (preview, confirmation)."""
    preview = await bot.ask(ADMIN, command)
    ok = next(d for d in preview.button_data() if d.startswith("adm:ok:"))
    calls = [c for c in await bot.press(preview, ok, user_id=ADMIN)
             if c.chat_id in (None, ADMIN)]  # "sekarang" starts the broadcast meanwhile
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageReplyMarkup",
                                         "sendMessage"]
    assert calls[1].button_data() == []  # the preview cannot be confirmed twice
    return preview.text, calls[-1].text


# -- admin commands ------------------------------------------------------------------------
async def test_admin_schedules_with_preview_and_button_and_it_is_sent_on_time(
        bot: Harness) -> None:
    subscribers = subscribe(bot, 3)
    text = "Selamat pagi, rekan ASN!\nBesok kampanye dimulai: tetap netral, ya."
    send_at = dt.datetime(2031, 3, 2, 9, 0, tzinfo=WIB)
    preview = await bot.ask(ADMIN, f"/siaran 2 Maret 2031 09.00 WIB\n{text}")
    assert preview.text == replies.render_preview(
        text, replies.format_local_time(send_at, WIB), None, replies.ALL_SUBSCRIBERS, 3)
    assert preview.button_labels() == [replies.ADMIN_CONFIRM_BUTTON,
                                       replies.ADMIN_DISCARD_BUTTON]
    assert all(len(d.encode()) <= 64 for d in preview.button_data())

    ok = next(d for d in preview.button_data() if d.startswith("adm:ok:"))
    confirmation = (await bot.press(preview, ok, user_id=ADMIN))[-1]
    assert confirmation.text == replies.ADMIN_SCHEDULED.format(
        id=1, when=replies.format_local_time(send_at, WIB), audience=replies.ALL_SUBSCRIBERS)
    scheduler = bot.services.scheduler
    assert scheduler is not None and scheduler.job_ids() == ["broadcast:1"]
    assert "#1" in (await bot.ask(ADMIN, "/siaranmendatang")).text
    assert copies(bot.api, text) == Counter()  # nothing before its time

    bot.clock.now = send_at.astimezone(dt.UTC)  # 09.00 WIB: what the date job does
    assert scheduler.sync(bot.clock()).started == (1,)
    await scheduler.idle()
    assert copies(bot.api, text) == Counter(dict.fromkeys(subscribers, 1))
    report = bot.api.sent(ADMIN)[-1].text
    assert "Siaran #1: selesai" in report and "terkirim 3" in report
    assert bot.services.store.broadcast(1).status is BroadcastStatus.DONE
    assert scheduler.job_ids() == []


async def test_discard_button_creates_nothing(bot: Harness) -> None:
    preview = await bot.ask(ADMIN, "/siaran 2031-03-03 07:00 | Pengingat ikrar netralitas")
    discard = next(d for d in preview.button_data() if d.startswith("adm:no:"))
    reply = (await bot.press(preview, discard, user_id=ADMIN))[-1]
    assert reply.text == replies.ADMIN_DRAFT_DISCARDED
    assert bot.services.store.recent_broadcasts() == []


async def test_bad_admin_input_says_what_to_fix(bot: Harness) -> None:
    reply = await bot.ask(ADMIN, "/siaran besok pagi\nHalo")
    assert reply.text == replies.ADMIN_BAD_DATE.format(value="besok pagi")
    assert (await bot.ask(ADMIN, "/siaran 2031-03-03 07:00")).text == replies.ADMIN_EMPTY_TEXT
    assert (await bot.ask(ADMIN, "/admin")).text == bot.services.admin.help_text(bot.clock())


async def test_non_admin_is_refused_politely_and_audited(bot: Harness) -> None:
    refused = await bot.ask(STRANGER, "/siaran sekarang\nHalo semua")
    assert refused.text == replies.ADMIN_REFUSED and refused.button_data() == []
    kb_before = bot.services.kb
    assert (await bot.ask(STRANGER, "/muatulang")).text == replies.ADMIN_REFUSED
    assert bot.services.kb is kb_before
    forged = (await bot.press(refused, "adm:ok:1", user_id=STRANGER))[-1]
    assert forged.text == replies.ADMIN_REFUSED

    since = bot.api.mark()  # in groups admin commands are ignored, even the admin's
    await bot.processed(bot.api.send_text(GROUP, "/siaran sekarang\nHalo grup", user_id=ADMIN))
    assert bot.api.sent(GROUP, since) == []

    audit = [(int(e["user_id"]), e["action"], e["allowed"])
             for e in reversed(bot.services.store.audit_log())]
    assert audit == [(STRANGER, "siaran", 0), (STRANGER, "muatulang", 0),
                     (STRANGER, "button", 0)]
    assert bot.services.store.recent_broadcasts() == []
    menu = {c["command"] for c in bot.api.commands()}
    assert menu and not menu & set(ADMIN_COMMANDS)


def test_command_text_keeps_the_lines_after_the_command() -> None:
    assert parse_command("/siaran@TanyaNetralBot 2031-03-03 07:00\nA\n\nB") == (
        "siaran", "2031-03-03 07:00\nA\n\nB")
    assert parse_command("/Progres") == ("progres", "")


# -- delivery ------------------------------------------------------------------------------
async def test_broadcast_to_hundreds_despite_429_5xx_and_blocked_users(bot: Harness) -> None:
    chats = subscribe(bot, 300)
    flooded, flaky, gone, missing = chats[100:104], chats[150:154], chats[200:205], chats[250:253]
    broken = chats[280]
    for chat_id in flooded:
        bot.api.fail(too_many_requests(1), "sendMessage", chat_id)
    for chat_id in flaky:
        bot.api.fail(server_error(502 if chat_id % 2 else 500), "sendMessage", chat_id)
    for chat_id in gone:
        bot.api.block(chat_id)
    for chat_id in missing:
        bot.api.fail(chat_not_found(), "sendMessage", chat_id, times=None)
    bot.api.fail(ApiError(400, "Bad Request: message is too long"), "sendMessage", broken,
                 times=None)
    text = "📣 Pengingat: masa tenang dimulai besok. ASN tetap netral."

    preview, started = await schedule(bot, f"/siaran sekarang\n{text}")
    assert replies.ADMIN_PREVIEW_NOW in preview and "300 pelanggan" in preview
    assert started == replies.ADMIN_STARTED.format(id=1)
    await bot.services.scheduler.idle()

    unreachable = {*gone, *missing}
    reachable = [c for c in chats if c not in unreachable and c != broken]
    assert copies(bot.api, text) == Counter(dict.fromkeys(reachable, 1))
    tries = Counter(r.chat_id for r in bot.api.requests("sendMessage")
                    if r.text == copy_of(text))
    assert all(tries[c] == 2 for c in (*flooded, *flaky))  # retried once, after the wait
    assert all(tries[c] == 1 for c in (*unreachable, broken))  # never retried

    store = bot.services.store
    rows = {int(r["chat_id"]): r for r in store.deliveries(1)}
    assert {c for c, r in rows.items() if r["status"] == DeliveryStatus.BLOCKED} == unreachable
    assert rows[broken]["status"] == DeliveryStatus.FAILED
    assert all(store.chat(ChatRef.telegram(c)).blocked for c in unreachable)
    assert not any(store.chat(ChatRef.telegram(c)).blocked for c in reachable)

    report = last_report(bot.api, 1)
    assert report.startswith("📣 Siaran #1: selesai")
    assert f"terkirim {len(reachable)}" in report
    assert "gagal 1" in report and f"memblokir {len(unreachable)}" in report
    progress = (await bot.ask(ADMIN, "/progres 1")).text
    assert "selesai" in progress and f"terkirim {len(reachable)}" in progress


async def test_broadcasts_use_their_own_plain_bot(bot: Harness) -> None:
    sender = bot.services.scheduler.broadcaster.sender.by_channel[Channel.TELEGRAM]
    assert isinstance(sender, TelegramSender)
    assert type(sender.bot) is Bot and sender.bot is not bot.app.bot
    assert sender.bot.base_url == bot.app.bot.base_url


async def test_the_admin_in_the_audience_gets_start_copy_and_report_without_a_429(
        fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue, tmp_path: Path) -> None:
    """'🚀 mulai dikirim', the admin's own copy and the result leave through three code paths
    (the reply, the broadcast, the notice) but take one pace: a second apart, no 429."""
    fake_api.rate_limit(overall_per_second=30, per_chat_per_second=1)
    setup = settings(fake_api, tmp_path, broadcast_rate=25.0)
    async with running_bot(fake_api, kb, setup, ManualClock(START), dialogue,
                           pace=Pace(channel_limits(setup))) as bot:
        bot.services.store.subscribe(ChatRef.telegram(ADMIN), None, bot.clock())
        subscribe(bot, 5)
        text = "Besok masa tenang: ASN tetap netral."
        since = fake_api.mark()
        preview = await bot.ask(ADMIN, f"/siaran sekarang\n{text}")
        ok = next(d for d in preview.button_data() if d.startswith("adm:ok:"))
        await bot.press(preview, ok, user_id=ADMIN)
        await bot.services.scheduler.idle()
    started = replies.ADMIN_STARTED.format(id=1)
    to_admin = [r for r in fake_api.requests("sendMessage", since) if r.chat_id == ADMIN]
    assert [r.status for r in to_admin] == [200] * len(to_admin)  # no 429 at all
    assert not [r for r in fake_api.requests(since=since) if r.status == 429]
    texts = [r.text for r in to_admin]
    assert texts[-3:] == [started, copy_of(text), texts[-1]]  # their own copy after the others
    assert texts[-1].startswith("📣 Siaran #1: selesai")
    at = [r.at for r in to_admin[-3:]]
    assert all(b - a >= 0.95 for a, b in pairwise(at))
    assert copies(fake_api, text) == Counter(dict.fromkeys([ADMIN, *subscribe_ids(5)], 1))


def subscribe_ids(count: int) -> list[int]:
    """The ids `subscribe` gives."""
    return list(range(FIRST_SUBSCRIBER, FIRST_SUBSCRIBER + count))


async def test_a_flood_wait_holds_back_a_reply_to_that_chat(bot: Harness) -> None:
    """A RetryAfter announced for a chat (here answered to a broadcast copy) holds every
    message to it, the answer to a question included, until it is over."""
    user = ChatRef.telegram(STRANGER)
    pace = bot.services.pace
    pace.flood(user, 1.5)
    flooded_at = pace.clock()
    reply = await bot.ask(STRANGER, FOTO_QUESTION)
    assert reply.ok and reply.at >= 0  # answered, after the wait:
    assert pace.clock() - flooded_at >= 1.5


async def test_progress_is_one_message_edited_in_place(fake_api: FakeBotApi, kb: KnowledgeBase,
                                                       dialogue: Dialogue,
                                                       tmp_path: Path) -> None:
    fake_api.slow_down(0.02)
    async with running_bot(fake_api, kb, settings(fake_api, tmp_path, broadcast_rate=100.0),
                           ManualClock(START), dialogue) as bot:
        bot.services.scheduler.broadcaster.progress_seconds = 0.3
        subscribe(bot, 120)
        since = fake_api.mark()
        await schedule(bot, "/siaran sekarang\nIngat, tetap netral.")
        await bot.services.scheduler.idle()
    fake_api.slow_down(0)
    reports = [r for r in fake_api.sent(ADMIN, since) if r.text.startswith("📣 Siaran #1")]
    edits = [r for r in fake_api.requests("editMessageText", since) if r.chat_id == ADMIN]
    assert len(reports) == 1 and "sedang dikirim" in reports[0].text
    assert "▱" in reports[0].text and "selesai kira-kira" in reports[0].text
    assert len(edits) >= 2 and all(e.ok for e in edits)
    assert {e.params["message_id"] for e in edits} == {reports[0].result["message_id"]}
    assert edits[-1].text.startswith("📣 Siaran #1: selesai") and "100%" in edits[-1].text


async def test_an_edit_that_changes_nothing_counts_as_sent(fake_api: FakeBotApi) -> None:
    sender = TelegramSender(fake_api.token, *api_urls(fake_api.url))
    await sender.start()
    try:
        chat = ChatRef.telegram(7)
        sent = await sender.send_text(chat, "50%")
        assert sent.message_id is not None
        same = await sender.edit_text(chat, sent.message_id, "50%")
        gone = await sender.edit_text(chat, "999", "60%")
    finally:
        await sender.stop()
    assert same.outcome is Outcome.SENT
    assert gone.outcome is Outcome.FAILED


@pytest.mark.parametrize(("error", "outcome", "retry_after"), [
    (None, Outcome.SENT, 0.0),
    (too_many_requests(3), Outcome.RETRY_AFTER, 3.0),
    (blocked_by_user(), Outcome.BLOCKED, 0.0),
    (chat_not_found(), Outcome.BLOCKED, 0.0),
    (ApiError(400, "Bad Request: message text is empty"), Outcome.FAILED, 0.0),
    (server_error(502), Outcome.TRANSIENT, 0.0),
    (server_error(500), Outcome.TRANSIENT, 0.0),
    (ApiError(401, "Unauthorized"), Outcome.FAILED, 0.0),
])
async def test_sender_maps_each_telegram_answer(fake_api: FakeBotApi, error: ApiError | None,
                                                outcome: Outcome, retry_after: float) -> None:
    sender = TelegramSender(fake_api.token, *api_urls(fake_api.url))
    await sender.start()
    try:
        if error is not None:
            fake_api.fail(error, "sendMessage", 7)
        result = await sender.send_text(ChatRef.telegram(7), "halo")
    finally:
        await sender.stop()
    assert (result.outcome, result.retry_after) == (outcome, retry_after)
    assert len(fake_api.requests("sendMessage")) == 1  # one call, one request: no hidden retry


async def test_sender_counts_a_timeout_as_transient(fake_api: FakeBotApi) -> None:
    sender = TelegramSender(fake_api.token, *api_urls(fake_api.url), read_timeout=0.1)
    await sender.start()
    fake_api.slow_down(0.5)
    try:
        result = await sender.send_text(ChatRef.telegram(7), "halo")
    finally:
        fake_api.slow_down(0)
        await sender.stop()
    assert result.outcome is Outcome.TRANSIENT and "timed out" in (result.error or "")


# -- knowledge reload ----------------------------------------------------------------------
async def test_reload_with_a_broken_edit_keeps_answering_with_the_old_knowledge(
        fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue, tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    intents = knowledge / "intents" / "foto_medsos.yaml"
    good = intents.read_text(encoding="utf-8")
    old_title, new_title = "Foto bersama calon lalu diposting", "Foto bersama calon lalu diunggah"
    assert good.count("    verdict: dilarang\n") and good.count(old_title) == 1
    async with running_bot(fake_api, kb, settings(fake_api, tmp_path, knowledge_dir=knowledge),
                           ManualClock(START), dialogue) as bot:
        intents.write_text(good.replace("    verdict: dilarang\n", "    verdict: mungkin\n", 1),
                           encoding="utf-8")
        failed = (await bot.ask(ADMIN, "/muatulang")).text
        assert failed.startswith(replies.ADMIN_RELOAD_FAILED.split("{")[0])
        line = good[: good.index("    verdict: dilarang\n")].count("\n") + 1
        assert f"intents/foto_medsos.yaml:{line}: foto_bersama_calon: verdict:" in failed
        assert bot.services.kb is kb and bot.services.dialogue is dialogue
        answer = await bot.ask(STRANGER, FOTO_QUESTION)
        assert answer.text.startswith("⛔ DILARANG") and old_title in answer.text
        audit = bot.services.store.audit_log()
        assert any(e["action"] == "reload_failed" for e in audit)

        intents.write_text(good.replace(old_title, new_title), encoding="utf-8")
        reloaded = (await bot.ask(ADMIN, "/muatulang")).text
        new_kb = bot.services.kb
        assert new_kb is not kb and bot.services.dialogue.kb is new_kb
        assert reloaded == replies.ADMIN_RELOADED.format(
            intents=len(new_kb.intents), regions=len(new_kb.regions),
            elections=len(new_kb.calendar.elections))
        assert new_title in (await bot.ask(STRANGER, FOTO_QUESTION)).text
