"""Broadcast delivery over Telegram: the `Sender` of bot/broadcasts.py (broadcasts and notices).

Broadcasts go through their own plain `telegram.Bot`, with its own connection pool and no rate
limiter, for two reasons:

* The Broadcaster retries and backs off itself, and its duplicate bound rests on "one
  `send_text` call = at most one message". The interactive bot's rate limiter retries a
  RetryAfter once, behind the caller's back.
* A broadcast of thousands of messages never holds the connections that interactive replies
  need: answers stay fast while a broadcast runs.

Admin notices (progress, results, missed broadcasts) are few and go through this sender too;
a broadcast's progress message is edited in place (`edit_text`). Every call here is made in a
turn of the core's `Pace`, the same pace the interactive bot's requests take
(bot/channels/telegram/limiter.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.broadcasts import DEFAULT_WORKERS, SendResult
from bot.config import Settings
from bot.models import ChatRef

logger = logging.getLogger(__name__)

# Connections for broadcasts: one per delivery worker, plus headroom for the start-up getMe.
POOL_SIZE = DEFAULT_WORKERS + 2
# Bad Requests that mean the chat is gone for good: never send there again.
UNREACHABLE = ("chat not found",)
NOT_MODIFIED = "message is not modified"  # Telegram's answer to an edit that changes nothing
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Start-up: tries of getMe when Telegram is briefly unreachable, the first wait between two
# (doubled after each) in seconds. A rejected token is never retried.
START_ATTEMPTS = 4
START_BACKOFF = 1.0


class TelegramSender:
    """Send one broadcast message per call through a dedicated Bot; map errors to `SendResult`.

    Call `start()` before the first send (inside the running loop) and `stop()` at shutdown.

    Args:
        token: The bot token.
        base_url: PTB's `base_url` (see `api_urls`); None =
            api.telegram.org.
        base_file_url: PTB's `base_file_url`.
        pool_size: Connections to keep; at least the Broadcaster's worker count.
        read_timeout: Seconds to wait for Telegram's answer before the send counts as timed out
            (then retried: it is the one non-crash source of a duplicate).
        start_attempts: Tries of the start-up getMe on network errors and time-outs.
        start_backoff: Seconds before the second try, doubled before each further one.
    """

    def __init__(self, token: str, base_url: str | None = None,
                 base_file_url: str | None = None, *, pool_size: int = POOL_SIZE,
                 read_timeout: float = 10.0, start_attempts: int = START_ATTEMPTS,
                 start_backoff: float = START_BACKOFF) -> None:
        urls = {"base_url": base_url, "base_file_url": base_file_url}
        self.bot = Bot(
            token, **{k: v for k, v in urls.items() if v},
            request=HTTPXRequest(connection_pool_size=pool_size, read_timeout=read_timeout),
            get_updates_request=HTTPXRequest(connection_pool_size=1))
        self.start_attempts = max(1, start_attempts)
        self.start_backoff = start_backoff

    async def start(self) -> None:
        """Open the connection pool and check the token with getMe.

        On a network error or time-out it tries up to `start_attempts` times in all, with a
        doubling wait; a rejected token (`InvalidToken`) or a Bad Request is raised at once.
        """
        wait = self.start_backoff
        for attempt in range(1, self.start_attempts + 1):
            try:
                await self.bot.initialize()
                return
            except BadRequest:  # a NetworkError subclass, but not a passing one
                raise
            except NetworkError as exc:  # TimedOut, connection errors, 5xx
                if attempt == self.start_attempts:
                    logger.error("Telegram unreachable at start-up (%s) after %d attempts; "
                                 "giving up", type(exc).__name__, attempt)
                    raise
                logger.warning("Telegram unreachable at start-up (%s), attempt %d of %d; "
                               "retrying in %g s", type(exc).__name__, attempt,
                               self.start_attempts, wait)
            await asyncio.sleep(wait)
            wait *= 2

    async def stop(self) -> None:
        """Close the connection pool."""
        await self.bot.shutdown()

    async def send_text(self, chat: ChatRef, text: str) -> SendResult:
        """Send `text` to `chat` once; never raise for a Telegram error, never retry."""
        try:
            sent = await self.bot.send_message(int(chat.id), text, parse_mode=ParseMode.HTML,
                                               link_preview_options=_NO_PREVIEW)
        except TelegramError as exc:
            return _mapped(exc)
        return SendResult.sent(str(sent.message_id))

    async def edit_text(self, chat: ChatRef, message_id: str, text: str) -> SendResult:
        """Replace a sent message's text once; "message is not modified" counts as sent."""
        try:
            await self.bot.edit_message_text(text, chat_id=int(chat.id),
                                             message_id=int(message_id), parse_mode=ParseMode.HTML,
                                             link_preview_options=_NO_PREVIEW)
        except TelegramError as exc:
            if isinstance(exc, BadRequest) and NOT_MODIFIED in exc.message.lower():
                return SendResult.sent(message_id)  # the same text again (nothing changed)
            return _mapped(exc)
        return SendResult.sent(message_id)


def _mapped(exc: TelegramError) -> SendResult:
    """A Telegram error as the Broadcaster's outcome."""
    if isinstance(exc, RetryAfter):
        return SendResult.retry(retry_after_seconds(exc), str(exc))
    if isinstance(exc, Forbidden):  # blocked by the user, deactivated, kicked from the group
        return SendResult.blocked(f"Forbidden: {exc.message}")
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest subclasses it
        if any(reason in exc.message.lower() for reason in UNREACHABLE):
            return SendResult.blocked(f"Bad Request: {exc.message}")
        return SendResult.failed(f"Bad Request: {exc.message}")
    if isinstance(exc, NetworkError):  # TimedOut, 5xx, connection errors
        kind = "timed out" if isinstance(exc, TimedOut) else "network"
        return SendResult.transient(f"{kind}: {exc.message}")
    return SendResult.failed(f"{type(exc).__name__}: {exc.message}")  # InvalidToken …


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait of a RetryAfter in seconds (PTB warns about its int form; both are fine)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


def api_urls(base: str) -> tuple[str, str]:
    """Turn TELEGRAM_BASE_URL (a Bot API server root) into PTB's `base_url` and `base_file_url`.

    `http://host:8081`, `http://host:8081/` and `http://host:8081/bot` all give
    `("http://host:8081/bot", "http://host:8081/file/bot")`; PTB appends the token.
    """
    root = base.strip().rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def telegram_sender(settings: Settings) -> TelegramSender:
    """The broadcast sender for TELEGRAM_BOT_TOKEN (and TELEGRAM_BASE_URL, if set)."""
    urls = api_urls(settings.telegram_base_url) if settings.telegram_base_url else (None, None)
    return TelegramSender(settings.telegram_token or "", *urls)
