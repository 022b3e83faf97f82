"""Console chat: the embedded default channel (`make run` with no Telegram or WhatsApp set up).

Same core as the other channels, through the same `Conversation` router: every user command
works (`/topik`, `/jadwal`, `/langganan`, `/hapusdata` … or the words, as on WhatsApp), buttons
are pressed by typing their number, and questions are counted and unanswered ones logged in the
same store. The console chat is one local user, `console:local`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

from bot.conversation import ChatMemory, Conversation
from bot.models import Channel, ChatRef, Choice, Reply
from bot.services import Services

QUIT_COMMANDS = frozenset({"/keluar", "/exit", "/quit", "keluar"})
CHAT = ChatRef(Channel.CONSOLE, "local")
WELCOME = (
    "Tanya Netral — tanya jawab netralitas ASN di Pemilu dan Pilkada.\n"
    "Ketik pertanyaan Anda, angka untuk memilih tombol, /topik untuk menu, /ikrar untuk teks "
    "ikrar, /bantuan untuk semua perintah, /keluar untuk berhenti.\n"
    "Ini informasi umum, bukan keputusan hukum."
)
GOODBYE = "Terima kasih, tetap netral! 👋"


def render(reply: Reply) -> str:
    """Render what a reply shows as plain text with numbered buttons."""
    shown = reply.shown()
    lines = [shown.text]
    for n, choice in enumerate(shown.buttons, start=1):
        lines.append(f"  [{n}] {choice.label}")
    return "\n".join(lines)


def run_console(services: Services, read: Callable[[str], str] = input,
                out: TextIO | None = None) -> None:
    """Run the read-answer loop until /keluar or end of input."""
    asyncio.run(_chat(services, read, out or sys.stdout))


async def _chat(services: Services, read: Callable[[str], str], stream: TextIO) -> None:
    conversation = Conversation(services, words=True)
    memory = ChatMemory()
    buttons: tuple[Choice, ...] = ()
    shown = 0  # the number of the bot's last message (console "message ids")
    print(WELCOME, file=stream)
    while True:
        try:
            line = read("\nAnda> ").strip()  # nothing else runs on this loop: blocking is fine
        except (EOFError, KeyboardInterrupt):
            break
        if line.lower() in QUIT_COMMANDS:
            break
        if line.isdecimal() and 1 <= int(line) <= len(buttons):
            reply = conversation.press(CHAT, buttons[int(line) - 1].action, memory, str(shown))
        else:
            reply = await conversation.text(CHAT, line, memory)
            memory.remember(str(shown + 1), line)
        shown += 1
        buttons = reply.shown().buttons
        print("\n" + render(reply), file=stream)
    print(GOODBYE, file=stream)
