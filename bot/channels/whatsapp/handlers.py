"""WhatsApp handlers: thin adapters from pywa updates to the core, and their registration.

Every text goes to the `Conversation` router (commands work as words, since WhatsApp has no
command menu), every reply button and list row to `Services.press` through it, and every
delivery receipt to `Services.receipt`. Updates are processed once per message id (the Cloud
API redelivers a webhook it thinks failed, and pywa only drops byte-identical bodies), one at a
time per chat (a quick double tap is answered in order), and a flooding user gets one polite
warning. The store is only touched from the event loop: pywa_async runs these coroutines there.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import httpx
from pywa_async import WhatsApp, filters
from pywa_async.errors import WhatsAppError
from pywa_async.handlers import (
    CallbackButtonHandler,
    CallbackSelectionHandler,
    MessageHandler,
    MessageStatusHandler,
)
from pywa_async.types import CallbackButton, CallbackSelection, Message, MessageStatus

from bot import replies
from bot.broadcasts import Outcome
from bot.channels.whatsapp.interactive import decode, render
from bot.channels.whatsapp.sender import (
    PAIR_RATE_LIMITED,
    RATE_LIMITED,
    RE_ENGAGEMENT,
    THROUGHPUT_PAUSE,
    UNREACHABLE,
    WhatsAppSender,
)
from bot.conversation import ChatMemory, Conversation
from bot.models import ChatRef, Reply
from bot.pace import FloodScope
from bot.services import Services
from bot.throttle import Decision

logger = logging.getLogger(__name__)

SEEN_MESSAGES = 50_000   # message ids remembered for deduplication
REPLY_ATTEMPTS = 2
REPLY_RETRY_SECONDS = 1.0
RETRYABLE = frozenset({RATE_LIMITED, PAIR_RATE_LIMITED, 131000})  # 131000: "something went wrong"
CHATS_IN_MEMORY = 20_000  # conversation state kept for this many recent chats


class WhatsAppChannel:
    """The WhatsApp side of one running bot: per-chat memory, ordering and deduplication."""

    def __init__(self, services: Services, client: WhatsApp, sender: WhatsAppSender) -> None:
        self.services = services
        self.client = client
        self.sender = sender
        self.conversation = Conversation(services, words=True)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._memory: OrderedDict[ChatRef, ChatMemory] = OrderedDict()
        self._locks: dict[ChatRef, asyncio.Lock] = {}
        self._waiting: dict[ChatRef, int] = {}

    # -- bookkeeping ------------------------------------------------------------------------
    def first_time(self, message_id: str) -> bool:
        """True once per message id: a redelivered webhook is not processed again."""
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        while len(self._seen) > SEEN_MESSAGES:
            self._seen.popitem(last=False)
        return True

    def memory(self, chat: ChatRef) -> ChatMemory:
        """The chat's conversation state (the least recently used chats are forgotten)."""
        memory = self._memory.pop(chat, None) or ChatMemory()
        self._memory[chat] = memory
        while len(self._memory) > CHATS_IN_MEMORY:
            self._memory.popitem(last=False)
        return memory

    async def say(self, chat: ChatRef, reply: Reply, question: str | None = None) -> None:
        """Send a reply (text parts, then its buttons or lists); remember what it answered.

        Each message takes the core's pace first (the pair rate, the shared budget, flood
        waits). A send that meets a rate limit or a network error is tried once more, after
        the wait a rate limit announces (`REPLY_RETRY_SECONDS` for this chat, or the whole
        number's pause for 130429); then the rest of the reply is dropped (logged without the
        user's text).
        """
        memory = self.memory(chat)
        pace = self.services.pace
        for outgoing in render(reply):
            for attempt in range(1, REPLY_ATTEMPTS + 1):
                try:
                    async with pace.turn(chat):
                        sent = await self.client.send_message(to=chat.id, text=outgoing.text,
                                                              buttons=outgoing.buttons)
                    break
                except (WhatsAppError, httpx.TransportError) as exc:
                    code = getattr(exc, "code", None)
                    if attempt == REPLY_ATTEMPTS or (
                            isinstance(exc, WhatsAppError) and code not in RETRYABLE):
                        logger.warning("reply not sent (%s)", code or type(exc).__name__)
                        return
                    if code == RATE_LIMITED:
                        pace.flood(chat, THROUGHPUT_PAUSE, FloodScope.CHANNEL)
                    else:
                        pace.flood(chat, REPLY_RETRY_SECONDS, FloodScope.CHAT)
            memory.remember(sent.id, question)

    async def _handle(self, chat: ChatRef, message_id: str,
                      work: Callable[[], Awaitable[None]]) -> None:
        """Run one update's work once, in order per chat, within the flood limit."""
        if not self.first_time(message_id):
            logger.info("duplicate webhook delivery skipped")
            return
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._waiting[chat] = self._waiting.get(chat, 0) + 1
        try:
            async with lock:
                decision = self.services.check_flood(chat)
                if decision is Decision.WARN:
                    await self.say(chat, Reply.notice(replies.TG_SLOW_DOWN))
                if decision is Decision.ALLOW:
                    await work()
                self.services.seen(chat)  # the 24-hour window opens now
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:
                del self._waiting[chat], self._locks[chat]

    # -- handlers ---------------------------------------------------------------------------
    async def answer_text(self, _client: WhatsApp, message: Message) -> None:
        """A text: a command word or slash command, else a question."""
        chat = _chat(message.from_user)
        await self._handle(chat, message.id, lambda: self._answer(chat, message.text or ""))

    async def _answer(self, chat: ChatRef, text: str) -> None:
        reply = await self.conversation.text(chat, text, self.memory(chat))
        await self.say(chat, reply, text)

    async def ask_for_text(self, _client: WhatsApp, message: Message) -> None:
        """Stickers, photos, voice notes …: politely ask for a typed question."""
        chat = _chat(message.from_user)
        await self._handle(chat, message.id,
                           lambda: self.say(chat, Reply.notice(replies.WA_NON_TEXT)))

    async def press(self, _client: WhatsApp, update: CallbackButton | CallbackSelection) -> None:
        """A reply button or a list row: its typed action, through the core's router."""
        chat = _chat(update.from_user)
        pressed_on = update.reply_to_message.id if update.reply_to_message else ""
        await self._handle(chat, update.id,
                           lambda: self._press(chat, str(update.data), pressed_on))

    async def _press(self, chat: ChatRef, data: str, pressed_on: str) -> None:
        action = decode(data)
        if action is None:
            await self.say(chat, Reply.notice(replies.TG_STALE_BUTTON))
            return
        memory = self.memory(chat)
        reply = self.conversation.press(chat, action, memory, pressed_on)
        await self.say(chat, reply, memory.question_for(pressed_on))

    async def track_status(self, _client: WhatsApp, status: MessageStatus) -> None:
        """sent / delivered / read / failed: update the delivery row of a broadcast message.

        A broadcast message refused with 131047 (the 24-hour window had closed after all) goes
        out again at once as the template, through the broadcast sender.
        """
        chat = _chat(status.from_user)
        error = status.error
        self.services.receipt(chat, status.id, str(status.status),
                              f"{error.code}: {error.message}" if error else None,
                              blocked=bool(error and error.code in UNREACHABLE))
        if error is None or error.code != RE_ENGAGEMENT:
            return
        text = self.services.undelivered(chat, status.id)
        if text is None:
            return
        result = await self.sender.send_text(chat, text)
        if result.outcome is Outcome.SENT and result.message_id:
            self.services.redelivered(chat, status.id, result.message_id)
        else:
            logger.warning("re-sending a refused reminder as the template failed: %s",
                           result.error)


def _chat(user: object) -> ChatRef:
    """The user's chat: pywa addresses users by the wa_id it received (or their BSUID)."""
    return ChatRef.whatsapp(getattr(user, "wa_id", None) or getattr(user, "bsuid", ""))


def register_handlers(client: WhatsApp, channel: WhatsAppChannel) -> None:
    """Register every handler: this function is the WhatsApp bot's menu."""
    client.add_handlers(
        MessageHandler(channel.answer_text, filters.text),
        MessageHandler(channel.ask_for_text),
        CallbackButtonHandler(channel.press),
        CallbackSelectionHandler(channel.press),
        MessageStatusHandler(channel.track_status),
    )
