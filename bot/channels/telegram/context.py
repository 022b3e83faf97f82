"""Per-update context and ordering: what a handler reaches, and in which order updates run.

`BotContext` gives handlers typed access to the services, the conversation router and the chat's
`ChatMemory`; `ChatOrderedProcessor` runs updates concurrently across chats but in order within
one chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor, CallbackContext, ExtBot

from bot.conversation import ChatMemory, Conversation
from bot.models import ChatRef
from bot.services import Services

_WAITING_UPDATES = 100_000  # see ChatOrderedProcessor


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    """Callback context with typed access to the core and the chat's conversation state."""

    @property
    def services(self) -> Services:
        """The composition object stored in `bot_data` by `build_application`."""
        return self.bot_data["services"]

    @property
    def conversation(self) -> Conversation:
        """The core's router (for /muatulang and pressed buttons)."""
        return self.bot_data["conversation"]

    @property
    def memory(self) -> ChatMemory:
        """This chat's conversation state (kept in memory only)."""
        return self.chat_data.setdefault("memory", ChatMemory())

    def remember_question(self, message_id: int, question: str | None) -> None:
        """Remember which question a bot message answered, for 👎 and "Bukan semuanya"."""
        self.memory.remember(str(message_id), question)

    def question_for(self, message_id: int) -> str | None:
        """The question a bot message answered, if still remembered."""
        return self.memory.question_for(str(message_id))


def chat_of(update: Update) -> ChatRef:
    """The update's chat as a core `ChatRef`."""
    return ChatRef.telegram(update.effective_chat.id)


def user_of(update: Update) -> ChatRef:
    """The update's user, as the core names users (their private chat)."""
    return ChatRef.telegram(update.effective_user.id)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Process updates concurrently across chats, but one at a time and in order per chat.

    PTB's default processor is either fully sequential (slow under load) or fully concurrent
    (a user's quick double tap could be answered out of order); this keeps both properties.
    The limit of `running` updates is applied *after* an update's turn in its chat has come.
    The base class's semaphore, taken first, is left wide (`max_concurrent_updates` is
    `_WAITING_UPDATES`), so one chat with many queued updates cannot hold every slot while the
    other chats wait. Waiting updates are cheap tasks either way.
    """

    __slots__ = ("_locks", "_pending", "_slots", "running")

    def __init__(self, running: int) -> None:
        super().__init__(_WAITING_UPDATES)
        self.running = running
        self._slots = asyncio.BoundedSemaphore(running)
        self._locks: dict[int, asyncio.Lock] = {}
        self._pending: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await `coroutine` after earlier updates of the same chat have finished."""
        key = _chat_key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._pending[key] = self._pending.get(key, 0) + 1
        try:
            async with lock, self._slots:
                await coroutine
        finally:
            self._pending[key] -= 1
            if not self._pending[key]:
                del self._pending[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _chat_key(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat:
        return update.effective_chat.id
    return None
