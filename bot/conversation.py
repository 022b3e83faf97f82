"""The conversation router: one chat's text or button press in, the `Reply` to show out.

Channels without a command framework (the console, WhatsApp) hand every message to
`Conversation`; Telegram registers the same command names with python-telegram-bot and calls
the same `Services` use cases. Commands work with a slash everywhere (`/topik`), and as plain
words where the channel has no command menu (`topik`, `menu`, `hapus data`, `STOP` …). Admin
commands go to `Admin.handle`, which checks the allow-list. Anything else is a question.

`ChatMemory` is the per-chat state a channel keeps in memory: the dialogue context (for
follow-up questions) and which question each recent bot message answered (for 👎 and
"Bukan semuanya").
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from bot import replies
from bot.admin import ADMIN_COMMANDS, CMD_RELOAD
from bot.dialogue import Context
from bot.models import Action, ChatRef, Reply
from bot.services import Services

# -- user commands (Indonesian, as users type them) ------------------------------------------
CMD_START = "start"
CMD_MULAI = "mulai"
CMD_BANTUAN = "bantuan"
CMD_TOPIK = "topik"
CMD_IKRAR = "ikrar"
CMD_LAPOR = "lapor"
CMD_JADWAL = "jadwal"
CMD_LANGGANAN = "langganan"
CMD_BERHENTI = "berhenti"
CMD_HAPUSDATA = "hapusdata"
CMD_TENTANG = "tentang"
MENU_COMMANDS = (CMD_MULAI, CMD_TOPIK, CMD_IKRAR, CMD_LAPOR, CMD_JADWAL, CMD_LANGGANAN,
                 CMD_BERHENTI, CMD_HAPUSDATA, CMD_TENTANG, CMD_BANTUAN)
# Commands as words (a whole message, any case, trailing punctuation ignored).
COMMAND_WORDS = {
    "menu": CMD_MULAI, "mulai": CMD_MULAI, "start": CMD_MULAI, "bantuan": CMD_BANTUAN,
    "help": CMD_BANTUAN, "topik": CMD_TOPIK, "ikrar": CMD_IKRAR, "lapor": CMD_LAPOR,
    "jadwal": CMD_JADWAL, "langganan": CMD_LANGGANAN, "berhenti": CMD_BERHENTI,
    "stop": CMD_BERHENTI, "hapus data": CMD_HAPUSDATA, "hapusdata": CMD_HAPUSDATA,
    "tentang": CMD_TENTANG,
}
ASKED_MEMORY = 20  # per chat: bot message id -> the question it answered
_COMMAND = re.compile(r"/(?P<name>[^\s@]+)(?:@\S*)?")


def parse_command(text: str, words: bool = False) -> tuple[str, str] | None:
    """Split a command message into its name (lower case) and the raw text after it.

    Unlike a split on spaces, the rest keeps its line breaks: a broadcast's text is multi-line.
    With `words`, a message that is only a command word (`topik`, `Hapus data!`) counts too.

    Returns:
        None when the message is not a command (a question).
    """
    stripped = text.strip()
    match = _COMMAND.match(stripped)
    if match is not None:
        return match["name"].lower(), stripped[match.end():].lstrip()
    if words:
        name = COMMAND_WORDS.get(" ".join(stripped.lower().split()).strip(" .!?"))
        if name is not None:
            return name, ""
    return None


@dataclass(slots=True)
class ChatMemory:
    """Per-chat conversation state (in memory only)."""

    context: Context = field(default_factory=Context)
    asked: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def remember(self, message_id: str, question: str | None) -> None:
        """Remember which question a bot message answered, for 👎 and "Bukan semuanya"."""
        if not question:
            return
        self.asked[str(message_id)] = question
        while len(self.asked) > ASKED_MEMORY:
            self.asked.popitem(last=False)

    def question_for(self, message_id: str) -> str | None:
        """The question a bot message answered, if still remembered."""
        return self.asked.get(str(message_id))


class Conversation:
    """Routes one chat's messages and button presses to the use cases.

    Args:
        services: The core.
        words: Whether bare command words count as commands (no command menu on the channel).
        welcome: The greeting for /mulai (and `menu`).
        help_text: The command list for /bantuan.
    """

    def __init__(self, services: Services, *, words: bool, welcome: str = replies.WA_WELCOME,
                 help_text: str = replies.WA_HELP) -> None:
        self.services = services
        self.words = words
        s = services
        self._commands: dict[str, Callable[[ChatRef], Reply]] = {
            CMD_MULAI: lambda _: Reply.notice(welcome),
            CMD_START: lambda _: Reply.notice(welcome),
            CMD_BANTUAN: lambda _: Reply.notice(help_text),
            CMD_TOPIK: lambda _: s.dialogue.topic_menu(),
            CMD_IKRAR: lambda _: s.pledge_offer(),
            CMD_LAPOR: lambda _: s.report_reply(),
            CMD_JADWAL: lambda _: s.schedule_reply(),
            CMD_LANGGANAN: lambda _: s.subscription_offer(),
            CMD_BERHENTI: s.unsubscribe,
            CMD_HAPUSDATA: lambda _: s.delete_offer(),
            CMD_TENTANG: lambda _: s.about(),
        }

    async def text(self, chat: ChatRef, text: str, memory: ChatMemory) -> Reply:
        """Reply to a message in a private chat: a command, or else a question."""
        command = parse_command(text, self.words)
        if command is None:
            return self.services.ask(text, memory.context, chat)
        name, args = command
        if name == CMD_RELOAD:
            return await self.reload_knowledge(chat)
        if name in ADMIN_COMMANDS:
            return self.services.admin.handle(name, args, chat, self.services.clock())
        handler = self._commands.get(name)
        return handler(chat) if handler else Reply.notice(replies.TG_UNKNOWN_COMMAND)

    def press(self, chat: ChatRef, action: Action, memory: ChatMemory,
              message_id: str = "") -> Reply:
        """Reply to a button pressed under the bot message `message_id`."""
        return self.services.press(chat, action, memory.question_for(message_id), message_id)

    async def reload_knowledge(self, user: ChatRef) -> Reply:
        """/muatulang: load the knowledge base off the event loop, then swap it in (admins only).

        A broken edit keeps the old knowledge base and the admin gets every problem, located.
        """
        services = self.services
        install = services.reload_knowledge  # a refused user never gets this far
        if services.admin.is_admin(user):  # only admins make us parse YAML, and not on the loop
            install = await asyncio.to_thread(services.prepare_knowledge)
        return services.admin.reload_knowledge(user, services.clock(), install)
