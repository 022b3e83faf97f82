"""The interactive bot's rate limiter: PTB's requests take the core's one `Pace`.

PTB hands every Bot API call of the `Application`'s bot to its rate limiter. Here a call that
creates a message in a chat (sendMessage, sendPhoto, copyMessage …) waits for that chat's turn
and the channel's budget, an edit waits for the budget, and either waits out a flood wait that
a RetryAfter announced for the chat, whoever caused it (a broadcast, a notice, a reply). A
RetryAfter answered to this call is reported to the pace and the call is made once more, after
the wait. Everything else (answerCallbackQuery, sendChatAction, getUpdates …) goes at once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.channels.telegram.sender import retry_after_seconds
from bot.models import ChatRef
from bot.pace import Pace

# Calls that put a new message into a chat; edits change one that is there.
SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAudio",
                   "sendVoice", "sendAnimation", "sendSticker", "sendLocation", "sendContact",
                   "sendPoll", "sendMediaGroup", "copyMessage", "forwardMessage"})
EDITS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup",
                   "editMessageMedia"})
MAX_RETRIES = 1  # a RetryAfter is waited out and the call made once more


class PaceLimiter(BaseRateLimiter[None]):
    """PTB's `BaseRateLimiter` over the core's `Pace` (see the module docstring)."""

    __slots__ = ("pace",)

    def __init__(self, pace: Pace) -> None:
        self.pace = pace

    async def initialize(self) -> None:
        """Nothing to set up (the pace lives in the core)."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Take the chat's turn for sends and edits, make the call, honour a RetryAfter."""
        chat_id = data.get("chat_id")
        paced = chat_id is not None and (endpoint in SENDS or endpoint in EDITS)
        chat = ChatRef.telegram(chat_id) if paced else None
        group = str(chat_id).startswith("-") or not str(chat_id).lstrip("-").isdigit()
        if chat is None:
            return await callback(*args, **kwargs)
        retries = 0
        while True:
            try:
                async with self.pace.turn(chat, group=group, edit=endpoint in EDITS):
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if retries == MAX_RETRIES:
                    raise
                retries += 1
                self.pace.flood(chat, retry_after_seconds(exc))
