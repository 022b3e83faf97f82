"""Broadcast delivery over WhatsApp: the `Sender` of bot/broadcasts.py, and the error mapping.

WhatsApp accepts free-form messages only within 24 hours of the user's last message; outside
that window only an approved template. So each reminder goes as text when the subscriber wrote
within the window (minus a safety margin), else as WHATSAPP_REMINDER_TEMPLATE with the text as
its one body parameter. The Cloud API's answers map to the Broadcaster's outcomes:

* 130429 (throughput) → `retry` for the channel: the whole WhatsApp pace pauses, then the
  message is retried;
* 131056 (pair rate: too many messages to this user) → `retry` for this chat only: it waits
  6 s, the other chats go on;
* 131047 (re-engagement required: the window had closed) → the template, at once;
* 131026, 131050, 131021 (unreachable, stopped marketing messages, not a user) → `blocked`:
  the chat is marked and never retried;
* timeouts, connection errors and 5xx → `transient`; anything else → `failed`.

One `send_text` call sends at most one message (a template only after the text was refused),
so the Broadcaster's duplicate bound holds. Admin notices go through the same call.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import httpx
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types.templates import TemplateLanguage

from bot import replies
from bot.broadcasts import SendResult, utc_now
from bot.markup import to_plain, to_whatsapp
from bot.models import ChatRef
from bot.pace import FloodScope

logger = logging.getLogger(__name__)

WINDOW = dt.timedelta(hours=24)
WINDOW_MARGIN = dt.timedelta(minutes=10)  # a message sent at 23:59 may arrive after 24:00
THROUGHPUT_PAUSE = 5.0                     # seconds the whole pace pauses after a 130429
PAIR_PAUSE = 6.0                           # seconds one user waits after a 131056 (pair rate)
RATE_LIMITED = 130429
PAIR_RATE_LIMITED = 131056
RE_ENGAGEMENT = 131047
UNREACHABLE = frozenset({131026, 131050, 131021})
MAX_TEMPLATE_PARAM = 1000                   # body parameters must stay short and single-line

LastInbound = Callable[[ChatRef], dt.datetime | None]


def template_parameter(text: str) -> str:
    """A reminder's text as a template body parameter (no line breaks, at most 1,000 chars).

    The template has its own header and stop line, so a broadcast copy's are left out.
    """
    flat = " ".join(to_plain(replies.broadcast_body(text)).split())
    return flat if len(flat) <= MAX_TEMPLATE_PARAM else flat[:MAX_TEMPLATE_PARAM - 1] + "…"


class WhatsAppSender:
    """Send one reminder per call, as text in the 24-hour window and as the template outside.

    Args:
        client: pywa's client (shared with the handlers; its session holds the connections).
        last_inbound: When a chat last wrote to us (the store's record), or None.
        template: The reminder template as (name, language code); None = only in the window.
        now: Aware UTC wall clock.
    """

    def __init__(self, client: WhatsApp, last_inbound: LastInbound,
                 template: tuple[str, str] | None,
                 now: Callable[[], dt.datetime] = utc_now) -> None:
        self.client = client
        self.last_inbound = last_inbound
        self.template = template
        self.now = now

    def in_window(self, chat: ChatRef) -> bool:
        """Whether a free-form message may still be sent to the chat."""
        last = self.last_inbound(chat)
        return last is not None and self.now() - last < WINDOW - WINDOW_MARGIN

    async def send_text(self, chat: ChatRef, text: str) -> SendResult:
        """Send `text` to `chat` once (text or template); never raise, never retry."""
        if self.in_window(chat):
            result = await self._attempt(self._text(chat, text))
            if result is not None:
                return result  # sent, or an error that the template would not cure
        if self.template is None:
            return SendResult.failed("outside the 24-hour window and no "
                                     "WHATSAPP_REMINDER_TEMPLATE configured")
        return await self._attempt(self._template(chat, text)) or SendResult.failed(
            "template refused: re-engagement required")

    async def _text(self, chat: ChatRef, text: str) -> str:
        sent = await self.client.send_message(to=chat.id, text=to_whatsapp(text))
        return sent.id

    async def _template(self, chat: ChatRef, text: str) -> str:
        name, language = self.template or ("", "")
        body = {"type": "body",
                "parameters": [{"type": "text", "text": template_parameter(text)}]}
        sent = await self.client.send_template(to=chat.id, name=name,
                                               language=TemplateLanguage(language),
                                               params=[body])
        return sent.id

    async def _attempt(self, send: object) -> SendResult | None:
        """Await one send; map its outcome (None: the window had closed, send the template)."""
        try:
            message_id = await send  # type: ignore[misc]
        except WhatsAppError as exc:
            return _mapped(exc)
        except httpx.TimeoutException:
            return SendResult.transient("timed out")
        except httpx.TransportError as exc:
            return SendResult.transient(f"network: {type(exc).__name__}")
        return SendResult.sent(message_id)


def _mapped(exc: WhatsAppError) -> SendResult | None:
    error = f"{exc.code}: {exc.message}"
    if exc.code == RE_ENGAGEMENT:
        return None
    if exc.code == RATE_LIMITED:
        return SendResult.retry(THROUGHPUT_PAUSE, error, FloodScope.CHANNEL)
    if exc.code == PAIR_RATE_LIMITED:
        return SendResult.retry(PAIR_PAUSE, error, FloodScope.CHAT)
    if exc.code in UNREACHABLE:
        return SendResult.blocked(error)
    if (exc.status_code or 0) >= 500 or exc.is_transient:
        return SendResult.transient(error)
    return SendResult.failed(error)
