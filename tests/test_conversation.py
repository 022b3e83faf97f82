"""The conversation router: commands as slashes or words, admin commands, buttons, the console."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import replies
from bot.channels.console import CHAT, run_console
from bot.config import Settings
from bot.conversation import ChatMemory, Conversation, parse_command
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import ActionKind, ChatRef, ReplyKind
from bot.services import Services, build_services
from tests.telegram_harness import ManualClock

USER = ChatRef.whatsapp("6281234567890")
ADMIN = ChatRef.whatsapp("6289999999999")


@pytest.fixture
def services(kb: KnowledgeBase, dialogue: Dialogue, tmp_path: Path) -> Iterator[Services]:
    settings = Settings(db_path=tmp_path / "c.sqlite3",
                        whatsapp_admin_numbers=frozenset({ADMIN.id}))
    built = build_services(settings, kb, clock=ManualClock(), dialogue=dialogue)
    yield built
    built.close()


@pytest.mark.parametrize(("text", "words", "expected"), [
    ("/topik", False, ("topik", "")),
    ("/Siaran@TanyaNetralBot 2026-12-01 07:00\nHalo\nsemua", False,
     ("siaran", "2026-12-01 07:00\nHalo\nsemua")),
    ("topik", False, None),
    ("Topik!", True, ("topik", "")),
    ("  hapus   data ", True, ("hapusdata", "")),
    ("STOP", True, ("berhenti", "")),
    ("menu", True, ("mulai", "")),
    ("topik pemilu itu apa", True, None),
])
def test_parse_command(text: str, words: bool, expected: tuple[str, str] | None) -> None:
    assert parse_command(text, words) == expected


async def test_every_user_command_works_as_a_word(services: Services) -> None:
    conversation, memory = Conversation(services, words=True), ChatMemory()

    async def say(text: str) -> object:
        return await conversation.text(USER, text, memory)

    assert (await say("menu")).text == replies.WA_WELCOME
    assert (await say("bantuan")).text == replies.WA_HELP
    assert all(b.action.kind is ActionKind.TOPIC for b in (await say("topik")).buttons)
    assert (await say("ikrar")).buttons[0].action.kind is ActionKind.PLEDGE
    assert (await say("lapor")).intent == "cara_lapor"
    assert "Tahapan" in (await say("jadwal")).text or "tahapan" in (await say("jadwal")).text
    offer = await say("langganan")
    assert offer.buttons[-1].action.arg == "all"
    conversation.press(USER, offer.buttons[0].action, memory)
    assert services.store.subscribers() == [USER]
    assert (await say("STOP")).text == replies.TG_UNSUBSCRIBED  # opt-out at once
    assert services.store.subscribers() == []
    assert (await say("hapus data")).buttons[0].action.kind is ActionKind.DELETE_YES
    assert "Sumber" in (await say("tentang")).text
    assert (await say("/apaini")).text == replies.TG_UNKNOWN_COMMAND
    assert (await say("boleh gak pns foto bareng paslon?")).kind is ReplyKind.ANSWER


async def test_admin_commands_go_through_the_allow_list(services: Services) -> None:
    conversation, memory = Conversation(services, words=True), ChatMemory()
    refused = await conversation.text(USER, "/statistik", memory)
    assert refused.text == replies.ADMIN_REFUSED
    preview = await conversation.text(ADMIN, "/siaran sekarang\nTetap netral!", memory)
    assert preview.buttons[0].action.kind is ActionKind.ADMIN_CONFIRM
    started = conversation.press(ADMIN, preview.buttons[0].action, memory)
    assert "mulai dikirim" in started.text
    assert (await conversation.text(ADMIN, "/muatulang", memory)).text.startswith("✅")
    assert [e["channel"] for e in services.store.audit_log()][-1] == "whatsapp"


def test_the_console_understands_every_command(services: Services) -> None:
    lines = iter(["/jadwal", "/langganan", "1", "/tentang", "/ikrar", "1", "/hapusdata", "1",
                  "boleh gak pns foto bareng paslon?", "/keluar"])
    out = io.StringIO()
    run_console(services, read=lambda _prompt: next(lines), out=out)
    text = out.getvalue()
    assert "Langganan aktif untuk Aceh" in text
    assert "Ikrar netralitas Anda tercatat" in text
    assert replies.TG_DELETED in text and "DILARANG" in text
    assert services.store.chat(CHAT) is None  # /hapusdata removed the console chat's data
