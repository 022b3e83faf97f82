"""Teaching the bot with buttons (issue 7 §5): /takterjawab gives each logged question a button
that opens its choices (the three suggested intents, "Luar topik", "Abaikan"); a choice does
what /ajarkan does. Admins only; stale or forged data changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import replies
from bot.admin import CMD_UNANSWERED, Admin
from bot.config import Settings
from bot.dialogue import Dialogue
from bot.knowledge import LEARNED_FILE, KnowledgeBase, load_knowledge
from bot.models import Action, ActionKind, ChatRef
from bot.store import Store
from tests.fake_bot_api import FakeBotApi
from tests.telegram_harness import Harness, ManualClock, running_bot, settings_for

NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
ADMIN_ID, STRANGER_ID = 900, 12345
ADMIN, STRANGER = ChatRef.telegram(ADMIN_ID), ChatRef.telegram(STRANGER_ID)
QUESTION = "min sy nge-love story wa caleg dprd, aman gak tuh"


@pytest.fixture
def admin(kb_copy: Path, store: Store, kb: KnowledgeBase, dialogue: Dialogue) -> Admin:
    settings = Settings(admin_ids=frozenset({ADMIN_ID}), knowledge_dir=kb_copy)
    return Admin(store, settings, lambda: kb,
                 suggest=lambda text: [s.intent for s in dialogue.read(text).ranked])


def _learned(kb_copy: Path) -> str:
    path = kb_copy / LEARNED_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def test_each_logged_question_gets_a_button_with_its_choices(admin: Admin, store: Store,
                                                             dialogue: Dialogue,
                                                             kb: KnowledgeBase) -> None:
    store.record_miss(QUESTION, "fallback", None, NOW)
    store.record_miss("resep rendang", "fallback", None, NOW)
    listing = admin.handle(CMD_UNANSWERED, "", ADMIN, NOW)
    numbers = [str(m["id"]) for m in store.recent_misses()]
    assert [b.action for b in listing.buttons] == [Action(ActionKind.ADMIN_MISS, n)
                                                   for n in numbers]
    number = str(next(m["id"] for m in store.recent_misses() if m["text"] == QUESTION))
    choices = admin.press(ADMIN, Action(ActionKind.ADMIN_MISS, number), NOW)
    assert QUESTION in choices.text
    suggested = [s.intent for s in dialogue.read(QUESTION).ranked][:3]
    assert [b.action.arg for b in choices.buttons] == [
        *(f"{number}:{i}" for i in suggested), f"{number}:luar", f"{number}:abaikan"]
    assert [b.label for b in choices.buttons] == [
        *(kb.intents[i].title for i in suggested), replies.ADMIN_MISS_OUT_OF_SCOPE,
        replies.ADMIN_MISS_IGNORE]
    assert all(b.action.kind is ActionKind.ADMIN_LEARN for b in choices.buttons)


def test_a_choice_attaches_the_question_as_ajarkan_does(admin: Admin, store: Store,
                                                        kb_copy: Path) -> None:
    store.record_miss(QUESTION, "fallback", None, NOW)
    number = store.recent_misses()[0]["id"]
    done = admin.press(ADMIN, Action(ActionKind.ADMIN_LEARN,
                                     f"{number}:medsos_like_komen_share"), NOW)
    assert done.text == replies.ADMIN_LEARNED.format(n=number, intent="medsos_like_komen_share")
    assert QUESTION in load_knowledge(kb_copy).intents["medsos_like_komen_share"].questions
    assert store.recent_misses() == []
    again = admin.press(ADMIN, Action(ActionKind.ADMIN_MISS, str(number)), NOW)
    assert again.text == replies.ADMIN_MISS_GONE.format(n=number) and not again.buttons


def test_ignore_and_out_of_scope_buttons(admin: Admin, store: Store, kb_copy: Path) -> None:
    store.record_miss("resep kue lapis legit dong", "fallback", None, NOW)
    store.record_miss("asdf", "fallback", None, NOW)
    first, second = (m["id"] for m in reversed(store.recent_misses()))
    admin.press(ADMIN, Action(ActionKind.ADMIN_LEARN, f"{first}:luar"), NOW)
    assert "resep kue lapis legit dong" in load_knowledge(kb_copy).intents[
        "luar_topik"].questions
    ignored = admin.press(ADMIN, Action(ActionKind.ADMIN_LEARN, f"{second}:abaikan"), NOW)
    assert ignored.text == replies.ADMIN_LEARN_IGNORED.format(n=second)
    assert store.recent_misses() == []


@pytest.mark.parametrize("arg", ["{n}:tidak_ada", "999999:luar", "x:abaikan", "{n}", ":luar",
                                 "{n}:" + "a" * 300, "1" * 40 + ":abaikan"])
def test_forged_or_stale_choices_change_nothing(admin: Admin, store: Store, kb_copy: Path,
                                                arg: str) -> None:
    store.record_miss(QUESTION, "fallback", None, NOW)
    number = store.recent_misses()[0]["id"]
    before = _learned(kb_copy)
    reply = admin.press(ADMIN, Action(ActionKind.ADMIN_LEARN, arg.format(n=number)), NOW)
    assert reply.text != replies.ADMIN_LEARNED.format(n=number, intent="tidak_ada")
    assert _learned(kb_copy) == before and len(store.recent_misses()) == 1


def test_strangers_cannot_press_admin_choices(admin: Admin, store: Store, kb_copy: Path) -> None:
    store.record_miss(QUESTION, "fallback", None, NOW)
    number = store.recent_misses()[0]["id"]
    before = _learned(kb_copy)
    for action in (Action(ActionKind.ADMIN_MISS, str(number)),
                   Action(ActionKind.ADMIN_LEARN, f"{number}:abaikan")):
        assert admin.press(STRANGER, action, NOW).text == replies.ADMIN_REFUSED
    assert _learned(kb_copy) == before and len(store.recent_misses()) == 1
    assert [(r["action"], r["allowed"]) for r in store.db["audit"].rows
            if r["user_id"] == str(STRANGER_ID)] == [("button", 0), ("button", 0)]


# -- Telegram ---------------------------------------------------------------------------------
@pytest.fixture
async def bot(fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue, kb_copy: Path,
              tmp_path: Path) -> AsyncIterator[Harness]:
    settings = settings_for(fake_api, tmp_path / "bot.sqlite3", knowledge_dir=kb_copy,
                            admin_ids=frozenset({ADMIN_ID}))
    async with running_bot(fake_api, kb, settings, ManualClock(NOW), dialogue) as harness:
        yield harness


async def test_telegram_admin_teaches_with_two_taps(bot: Harness, kb_copy: Path) -> None:
    await bot.ask(STRANGER_ID, "qwerty zxcvb plugh")  # a miss, logged
    store = bot.services.store
    assert len(store.recent_misses()) == 1
    number = store.recent_misses()[0]["id"]
    listing = await bot.command(ADMIN_ID, "takterjawab")
    assert listing.button_data() == [f"adm:m:{number}"]
    calls = await bot.press(listing, f"adm:m:{number}")
    assert not [c for c in calls if c.method == "editMessageReplyMarkup"]  # the list stays
    (choices,) = [c for c in calls if c.method == "sendMessage"]
    assert choices.button_data()[-2:] == [f"adm:l:{number}:luar", f"adm:l:{number}:abaikan"]
    forged = await bot.press(choices, f"adm:l:{number}:abaikan", user_id=STRANGER_ID)
    assert [c.text for c in forged if c.method == "sendMessage"] == [replies.ADMIN_REFUSED]
    assert len(store.recent_misses()) == 1
    done = await bot.press(choices, f"adm:l:{number}:abaikan")
    assert [c.method for c in done] == ["answerCallbackQuery", "editMessageReplyMarkup",
                                        "sendMessage"]
    assert done[-1].text == replies.ADMIN_LEARN_IGNORED.format(n=number)
    assert store.recent_misses() == []
