"""Console chat: the embedded default channel (`make run` without a Telegram token).

Same services as Telegram: questions are counted and unanswered ones logged in the same store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from bot.dialogue import TOPIC_PREFIX, Context
from bot.models import Reply
from bot.services import Services

QUIT_COMMANDS = frozenset({"/keluar", "/exit", "/quit"})
WELCOME = (
    "Tanya Netral — tanya jawab netralitas ASN di Pemilu dan Pilkada.\n"
    "Ketik pertanyaan Anda, angka untuk memilih tombol, /topik untuk menu, /ikrar untuk teks "
    "ikrar, /keluar untuk berhenti.\n"
    "Ini informasi umum, bukan keputusan hukum."
)
GOODBYE = "Terima kasih, tetap netral! 👋"


def render(reply: Reply) -> str:
    """Render a reply as plain text with numbered buttons."""
    lines = [reply.text]
    for n, choice in enumerate(reply.buttons, start=1):
        lines.append(f"  [{n}] {choice.label}")
    return "\n".join(lines)


def run_console(services: Services, read: Callable[[str], str] = input,
                out: TextIO | None = None) -> None:
    """Run the read-answer loop until /keluar or end of input."""
    import sys

    stream = out or sys.stdout
    dialogue = services.dialogue
    context = Context()
    buttons: tuple = ()
    print(WELCOME, file=stream)
    while True:
        try:
            line = read("\nAnda> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if line.lower() in QUIT_COMMANDS:
            break
        if line.isdecimal() and 1 <= int(line) <= len(buttons):
            action = buttons[int(line) - 1].intent
            if action.startswith(TOPIC_PREFIX):
                reply = dialogue.topic(action[len(TOPIC_PREFIX):])
            elif action in dialogue.kb.intents:
                reply = dialogue.answer_intent(action)
            else:
                reply = dialogue.none_of_these()
        elif line.lower() in ("/topik", "topik"):
            reply = dialogue.topic_menu()
        elif line.lower() in ("/ikrar", "ikrar"):
            print("\n" + dialogue.pledge_text(), file=stream)
            buttons = ()
            continue
        else:
            reply = services.ask(line, context)
        buttons = reply.buttons
        print("\n" + render(reply), file=stream)
    print(GOODBYE, file=stream)
