"""Formatted and short answers (issue 9): HTML on Telegram, *bold* on WhatsApp, plain on the
console; the verdict and a few sentences first, "Selengkapnya" for the whole answer.

The Telegram tests run the real PTB Application against the fake Bot API, which parses
`parse_mode` HTML as Telegram does (bad markup is refused), so what they read is what a user
would see.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import markup, replies
from bot.admin import Admin
from bot.channels.console import run_console
from bot.channels.whatsapp.interactive import render
from bot.channels.whatsapp.sender import template_parameter
from bot.chunks import split_markup
from bot.config import Settings
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import (
    Action,
    ActionKind,
    Broadcast,
    BroadcastStatus,
    Channel,
    ChatRef,
    Facet,
    Origin,
)
from bot.services import build_services
from bot.store import Store
from bot.timetable import calendar_broadcasts
from tests.fake_bot_api import FakeBotApi, parse_html
from tests.telegram_harness import Harness, ManualClock, running_bot, settings_for

USER = 3001
FOTO = "boleh gak pns foto bareng paslon?"
FOTO_INTENT = "foto_bersama_calon"
TRICKY = "kondangan <b>acara</b> & \"reuni\" <3"  # must arrive exactly so, never as markup


@pytest.fixture(scope="module")
def tricky_kb(kb: KnowledgeBase) -> KnowledgeBase:
    """The real knowledge base, with markup-like characters opening one answer."""
    intent = kb.intents[FOTO_INTENT]
    tricky = dataclasses.replace(intent, answer=f"{TRICKY}. {intent.answer}")
    return dataclasses.replace(kb, intents={**kb.intents, FOTO_INTENT: tricky})


@pytest.fixture
async def bot(fake_api: FakeBotApi, tricky_kb: KnowledgeBase,
              tmp_path: Path) -> AsyncIterator[Harness]:
    settings = settings_for(fake_api, tmp_path / "bot.sqlite3")
    async with running_bot(fake_api, tricky_kb, settings, ManualClock(),
                           Dialogue(tricky_kb)) as harness:
        yield harness


# -- the core: short answers -------------------------------------------------------------------
def test_a_long_answer_shows_its_verdict_and_first_sentences_with_selengkapnya(
        dialogue: Dialogue) -> None:
    reply = dialogue.answer(FOTO)
    shown = reply.shown()
    assert reply.intent == FOTO_INTENT and reply.brief is not None
    assert shown.text.startswith("⛔ DILARANG — ") and len(shown.text) < len(reply.text) / 2
    assert replies.BASIS_PREFIX not in shown.text and replies.BASIS_PREFIX in reply.text
    assert shown.buttons[0].label == replies.MORE_BUTTON
    assert shown.buttons[0].action == Action(ActionKind.MORE, FOTO_INTENT)
    assert shown.buttons[1:] == reply.buttons
    verdict_line = reply.text.split("\n")[0]
    assert [shown.text[s:e] for s, e in shown.bold] == [verdict_line]


def test_selengkapnya_gives_the_whole_answer(dialogue: Dialogue) -> None:
    reply = dialogue.answer(FOTO)
    more = dialogue.more(reply.shown().buttons[0].action.arg)
    assert more.text == reply.text and more.brief is None and more.verdict is reply.verdict
    labels = {reply.text[s:e] for s, e in reply.bold}
    assert {replies.BASIS_PREFIX.strip(), replies.SOURCES_PREFIX.strip()} <= labels


def test_every_caution_stays_visible_in_the_short_answer(dialogue: Dialogue,
                                                         kb: KnowledgeBase) -> None:
    cautious = [i for i in kb.intents.values() if i.caution and i.kind == "answer"]
    assert cautious
    for intent in cautious:
        shown = dialogue.answer_intent(intent.id).shown()
        caution = shown.text.split(replies.CAUTION_PREFIX)[-1]
        assert replies.CAUTION_PREFIX in shown.text and "\n" not in caution, intent.id
        assert len(caution) <= replies.CAUTION_LINE_CHARS + 1, intent.id


def test_a_broken_condition_is_kept_behind_selengkapnya(dialogue: Dialogue,
                                                        kb: KnowledgeBase) -> None:
    intent = next(i for i in kb.intents.values() if len(i.conditions) > 1)
    condition = intent.conditions[1]
    reply = dialogue.reply_for(intent, condition=condition)
    assert reply.verdict is condition.verdict and reply.brief is not None
    assert condition.text in reply.shown().text  # why it is stricter, up front
    action = reply.shown().buttons[0].action
    assert action == Action(ActionKind.MORE, f"{intent.id}:c1")
    more = dialogue.more(action.arg)
    assert more.text == reply.text and more.verdict is condition.verdict


@pytest.mark.parametrize("arg", ["no_such_intent", f"{FOTO_INTENT}:c99", f"{FOTO_INTENT}:x",
                                 f"{FOTO_INTENT}:c", "", "terima_kasih"])
def test_forged_or_stale_selengkapnya_data_is_refused(dialogue: Dialogue, arg: str,
                                                      kb: KnowledgeBase) -> None:
    if arg == "terima_kasih" and arg not in kb.intents:
        arg = next(i.id for i in kb.intents.values() if i.kind == "smalltalk")
    assert dialogue.more(arg).text == replies.UNKNOWN_INTENT


def test_a_short_answer_has_no_brief(dialogue: Dialogue, kb: KnowledgeBase) -> None:
    for intent in kb.intents.values():
        reply = dialogue.answer_intent(intent.id)
        if len(reply.text) <= replies.LONG_ANSWER_CHARS:
            assert reply.brief is None and reply.shown().text == reply.text


# -- the markup ---------------------------------------------------------------------------
def test_spans_become_escaped_markup() -> None:
    text = "⛔ A <b> & c\n\n⚖️ Dasar: x"
    html = markup.from_spans(text, [(0, 9), (13, 22)])
    assert html == "<b>⛔ A &lt;b&gt; &amp;</b> c\n\n<b>⚖️ Dasar:</b> x"
    assert parse_html(html)[0] == text
    assert markup.to_whatsapp(html) == "*⛔ A <b> &* c\n\n*⚖️ Dasar:* x"
    assert markup.to_plain(html) == text


_TEXT = st.text(st.sampled_from([*"ab <>&;\"'\n", "é", "⛔"]), max_size=60)


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.tuples(_TEXT, st.sampled_from(["", "b", "i", "a"])), max_size=12),
       limit=st.integers(min_value=40, max_value=200))
def test_markup_splits_never_inside_a_tag_or_an_entity(pieces: list[tuple[str, str]],
                                                       limit: int) -> None:
    html = "".join(
        markup.escape(text) if not tag
        else f'<a href="https://x.id">{markup.escape(text)}</a>' if tag == "a"
        else f"<{tag}>{markup.escape(text)}</{tag}>" for text, tag in pieces)
    parts = split_markup(html, limit)
    assert all(len(part) <= limit for part in parts)
    for part in parts:
        parse_html(part)  # Telegram accepts every part on its own (raises otherwise)
    shown = "".join(parse_html(part)[0] for part in parts)
    assert "".join(shown.split()) == "".join(parse_html(html)[0].split())


# -- Telegram -------------------------------------------------------------------------------
async def test_telegram_answers_in_html_with_kb_text_intact_and_expands_in_place(
        bot: Harness) -> None:
    answer = await bot.ask(USER, FOTO)
    assert answer.params["parse_mode"] == "HTML"
    assert TRICKY in answer.text  # '<', '&' and quotes arrive as written
    assert answer.bold() == [answer.text.split("\n")[0]]
    assert answer.text.startswith("⛔ DILARANG") and replies.BASIS_PREFIX not in answer.text
    assert answer.button_labels()[0] == replies.MORE_BUTTON
    assert answer.button_data()[0] == f"m:{FOTO_INTENT}"

    calls = await bot.press(answer, f"m:{FOTO_INTENT}")
    (edit,) = [c for c in calls if c.method == "editMessageText"]
    assert edit.ok and edit.params["message_id"] == answer.result["message_id"]
    assert TRICKY in edit.text and replies.BASIS_PREFIX in edit.text
    assert {replies.BASIS_PREFIX.strip(), replies.SOURCES_PREFIX.strip()} <= set(edit.bold())
    assert edit.button_data() == answer.button_data()[1:]  # the rest stays, 👍/👎 included
    again = await bot.press(answer, f"m:{FOTO_INTENT}")  # a double tap: "not modified" is fine
    assert replies.TG_ERROR not in [c.text for c in again]


@pytest.mark.parametrize("data", ["m:no_such_intent", f"m:{FOTO_INTENT}:c99", "m:x:y:z"])
async def test_telegram_refuses_forged_selengkapnya_data(bot: Harness, data: str) -> None:
    answer = await bot.ask(USER, FOTO)
    calls = await bot.press(answer, data)
    assert [(c.method, c.text) for c in calls] == [
        ("answerCallbackQuery", replies.TG_STALE_BUTTON)]


@pytest.mark.parametrize(("data", "table"), [("a:no_such_intent", "feedback"),
                                             ("r:atlantis", "chats")])
async def test_telegram_stores_nothing_for_forged_intent_or_region_data(
        bot: Harness, data: str, table: str) -> None:
    menu = await bot.command(USER, "topik")
    calls = await bot.press(menu, data)
    texts = [c.text for c in calls if c.method in ("sendMessage", "editMessageText")]
    assert texts and texts[-1] in (replies.UNKNOWN_INTENT, replies.TG_UNKNOWN_REGION)
    assert bot.services.store.db[table].count == 0


async def test_plain_notices_with_angle_brackets_are_escaped(bot: Harness) -> None:
    reply = await bot.command(USER, "admin")  # refused politely; /admin help has <tanggal>
    assert reply.ok and reply.params["parse_mode"] == "HTML"


# -- WhatsApp and the console ----------------------------------------------------------------
def test_whatsapp_shows_the_brief_in_its_own_bold(dialogue: Dialogue) -> None:
    messages = render(dialogue.answer(FOTO))
    assert messages[0].text.startswith("*⛔ DILARANG — ")
    assert "<b>" not in messages[0].text and replies.BASIS_PREFIX not in messages[0].text
    rows = messages[-1].buttons.sections[0].rows  # type: ignore[union-attr]
    assert rows[0].callback_data == f"more:{FOTO_INTENT}"


def test_the_console_shows_the_brief_and_the_whole_answer_on_its_number(
        kb: KnowledgeBase, dialogue: Dialogue, tmp_path: Path) -> None:
    services = build_services(dataclasses.replace(Settings(), db_path=tmp_path / "c.sqlite3"), kb,
                              dialogue=dialogue)
    lines = iter([FOTO, "1"])

    def read(_prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    try:
        run_console(services, read=read, out=out)
    finally:
        services.close()
    text = out.getvalue()
    assert f"[1] {replies.MORE_BUTTON}" in text
    assert text.count("⛔ DILARANG — ") == 2 and text.count(replies.BASIS_PREFIX) == 1
    assert "<b>" not in text


# -- admins' broadcast markup ---------------------------------------------------------------
ADMIN_USER = ChatRef.telegram(900)
NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def admin(store: Store, kb: KnowledgeBase) -> Admin:
    return Admin(store, Settings(admin_ids=frozenset({900})), lambda: kb)


@pytest.mark.parametrize(("text", "kind", "says"), [
    ("Rapat <tanggal> besok", "unknown", "«<tanggal>» tidak dikenal"),
    ("<b>Penting: jaga netralitas", "unclosed", "Tambahkan «</b>»"),
    ("Penting</b> sekali", "unopened", "«</b>»"),
    ("<b><i>Penting</b></i>", "unopened", "«</b>»"),
    ('<b class="x">Penting</b>', "attributes", "tidak boleh berisi atribut"),
    ('<a href="javascript:alert(1)">klik</a>', "link", "https://"),
    ("<a>klik</a>", "link", "https://"),
])
def test_broadcast_markup_is_checked_at_preview(admin: Admin, store: Store, text: str,
                                                kind: str, says: str) -> None:
    preview = admin.draft_broadcast(ADMIN_USER, ADMIN_USER, f"sekarang\n{text}", NOW)
    assert preview.text.startswith("Format teks siaran belum benar")
    assert says in preview.text
    tag = {"unknown": "tanggal", "link": "a"}.get(kind, "b")
    assert preview.text == replies.ADMIN_MARKUP_PROBLEMS[kind].format(tag=tag)
    assert not preview.buttons  # nothing to confirm


def test_good_broadcast_markup_is_kept_and_bare_characters_escaped(admin: Admin,
                                                                   store: Store) -> None:
    text = 'Q&A <b>netralitas</b>: usia < 30, <a href="https://bkn.go.id">BKN</a>'
    preview = admin.draft_broadcast(ADMIN_USER, ADMIN_USER, f"sekarang\n{text}", NOW)
    ok = next(b for b in preview.buttons if b.action.kind is ActionKind.ADMIN_CONFIRM)
    admin.press(ADMIN_USER, ok.action, NOW)
    (stored,) = [row["text"] for row in store.db["broadcasts"].rows]
    assert stored == ('Q&amp;A <b>netralitas</b>: usia &lt; 30, '
                      '<a href="https://bkn.go.id">BKN</a>')
    assert markup.problem(stored) is None
    assert parse_html(stored)[0] == "Q&A netralitas: usia < 30, BKN"


# -- broadcasts go out formatted ------------------------------------------------------------
LATER = dt.datetime(2031, 3, 2, 1, 0, tzinfo=dt.UTC)  # after the real clock (see broadcast e2e)


@pytest.fixture
async def broadcasting(fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue,
                       tmp_path: Path) -> AsyncIterator[Harness]:
    settings = settings_for(fake_api, tmp_path / "bot.sqlite3", broadcast_rate=1000.0,
                            admin_ids=frozenset({int(ADMIN_USER.id)}))
    async with running_bot(fake_api, kb, settings, ManualClock(LATER), dialogue) as harness:
        yield harness


async def test_a_formatted_broadcast_arrives_formatted_with_its_header_escaped(
        broadcasting: Harness) -> None:
    bot, admin_id, subscriber = broadcasting, int(ADMIN_USER.id), 77001
    bot.services.store.subscribe(ChatRef.telegram(subscriber), None, bot.clock())
    preview = await bot.ask(admin_id, '/siaran sekarang\n<b>Penting</b>: Q&A <i>usia</i> < 30, '
                                      '<a href="https://bkn.go.id">BKN</a>')
    ok = next(d for d in preview.button_data() if d.startswith("adm:ok:"))
    await bot.press(preview, ok, user_id=admin_id)
    assert bot.services.scheduler is not None
    await bot.services.scheduler.idle()
    (copy,) = bot.api.sent(subscriber)
    assert copy.params["parse_mode"] == "HTML"
    header, body, stop = copy.text.split("\n\n")
    assert header == replies.broadcast_header(Settings().broadcast_sender)
    assert body == "Penting: Q&A usia < 30, BKN" and copy.bold() == ["Penting"]
    assert {"type": "text_link", "url": "https://bkn.go.id"}.items() <= next(
        e for e in copy.entities() if e["type"] == "text_link").items()
    assert stop == replies.BROADCAST_STOP[Channel.TELEGRAM]
    notices = [r for r in bot.api.requests() if r.chat_id == admin_id
               and r.method in ("sendMessage", "editMessageText")]
    assert notices and all(r.ok for r in notices)  # progress and result are escaped text
    listing = await bot.ask(admin_id, "/progres 1")
    assert listing.ok


def test_calendar_reminders_are_escaped_and_listed_as_plain_text(kb: KnowledgeBase) -> None:
    broadcast = Broadcast(1, markup.escape("Q&A <pemilu>"), LATER, BroadcastStatus.SCHEDULED,
                          Origin.CALENDAR)
    line = replies.render_broadcast_line(broadcast, dt.UTC, "semua")
    assert "«Q&A <pemilu>»" in line
    planned = calendar_broadcasts(kb.calendar, kb.regions)
    assert planned and all(markup.problem(p.text) is None and parse_html(p.text)
                           for p in planned)


def test_whatsapp_broadcasts_use_whatsapp_formatting() -> None:
    copy = replies.broadcast_copy("<b>Penting</b> &amp; segera", Channel.WHATSAPP, "Tanya Netral")
    assert markup.to_whatsapp(copy).split("\n\n")[1] == "*Penting* & segera"
    assert template_parameter(copy) == "Penting & segera"


def test_the_long_message_note_keeps_the_bold_on_the_verdict(dialogue: Dialogue) -> None:
    reply = dialogue.answer(FOTO + " " + "sy cuma mau tanya. " * 260)  # over 4,000 characters
    assert reply.text.startswith(replies.TOO_LONG_NOTE) and reply.brief is not None
    for answer, shown in ((reply, reply.shown()),
                          (dialogue.answer(FOTO), dialogue.answer(FOTO).with_note("x").shown())):
        start, end = shown.bold[0]
        assert shown.text[start:end].startswith(f"{replies.VERDICT_LABELS[answer.verdict]} — ")


@pytest.mark.parametrize("data", ["f:2:foto_bersama_calon", "f:1:", "f:0:foto_bersama_calon:x",
                                  "m:", "ts:x", "adm:l:1"])
async def test_telegram_malformed_callback_data_is_answered_as_stale(bot: Harness,
                                                                     data: str) -> None:
    answer = await bot.ask(USER, FOTO)
    calls = await bot.press(answer, data)
    assert calls[0].method == "answerCallbackQuery"  # the spinner stops, no error
    assert replies.TG_ERROR not in [c.text for c in calls]
    assert not [c for c in calls if c.method == "editMessageText"]  # the answer is untouched
    assert bot.services.store.db["feedback"].count == 0
    assert bot.services.store.recent_misses() == []


def test_a_facet_answer_has_its_short_form_too(dialogue: Dialogue, kb: KnowledgeBase) -> None:
    intent = kb.intents[FOTO_INTENT]
    reply = dialogue.reply_for(intent, facet=Facet.SANCTION)
    assert reply.verdict == "info" and reply.brief is not None
    shown = reply.shown()
    assert shown.text.startswith("ℹ️ INFO") and replies.FACET_LEADS[Facet.SANCTION] in shown.text
    assert replies.SOURCES_PREFIX not in shown.text and len(shown.text) < len(reply.text)
    action = shown.buttons[0].action
    assert action == Action(ActionKind.MORE, f"{FOTO_INTENT}:fsanction")
    assert dialogue.more(action.arg).text == reply.text
    for forged in (f"{FOTO_INTENT}:fnope", f"{FOTO_INTENT}:fwhy:fwhy", f"{FOTO_INTENT}:c0:c0"):
        assert dialogue.more(forged).text == replies.UNKNOWN_INTENT, forged


def test_a_sanction_question_is_answered_short_first(dialogue: Dialogue) -> None:
    reply = dialogue.answer("sanksinya apa kalau pns posting foto bareng paslon?")
    if reply.verdict == "info" and reply.brief is not None:
        arg = reply.shown().buttons[0].action.arg
        assert ":f" in arg and dialogue.more(arg).text == reply.text


async def test_telegram_small_talk_has_no_keyboard_and_all_topics_opens_the_menu(
        bot: Harness, tricky_kb: KnowledgeBase) -> None:
    thanks = await bot.ask(USER, "makasih")
    assert thanks.buttons() == []
    fallback = await bot.ask(USER, "resep rendang")
    assert fallback.button_data() == ["ts"]
    (menu,) = [c for c in await bot.press(fallback, "ts") if c.method == "sendMessage"]
    assert menu.text == replies.TOPIC_MENU
    assert len(menu.buttons()) == len([t for t in tricky_kb.topics.values() if not t.hidden])
