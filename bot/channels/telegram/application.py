"""The Telegram application and its run loop: PTB's `Application` around the core's services.

`build_application` wires the handlers, the chat-ordered update processor and the start/stop
hooks (broadcast sender, scheduler) into an `Application` for services built by the core;
`run_telegram` builds everything for the settings and runs it with long polling, or a webhook
when WEBHOOK_URL is set, until interrupted.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

from bot import replies
from bot.channels.telegram.context import BotContext, ChatOrderedProcessor
from bot.channels.telegram.handlers import register_handlers
from bot.channels.telegram.limiter import PaceLimiter
from bot.channels.telegram.sender import START_ATTEMPTS, TelegramSender, api_urls, telegram_sender
from bot.config import Settings
from bot.conversation import MENU_COMMANDS, Conversation
from bot.knowledge import KnowledgeBase
from bot.models import Channel
from bot.redaction import install_log_hygiene
from bot.services import Services, build_services

logger = logging.getLogger(__name__)

POLL_TIMEOUT = dt.timedelta(seconds=30)  # long polling: Telegram answers as soon as updates exist
# Updates handled at once (across chats; one chat's updates stay in order). Telegram accepts
# about 30 messages/s per bot, and 16 requests in flight at ~100 ms round trip allow ~160/s;
# more only lengthens httpcore's pool scans (measured in benchmarks/bench_telegram.py).
CONCURRENT_UPDATES = 16
ALLOWED_UPDATES = (Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY,
                   Update.MY_CHAT_MEMBER)


REJECTED_TOKEN = "Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN"


class RejectedToken(RuntimeError):
    """Telegram refused the token at start-up (raised by `serving`, without the token)."""


class _RejectedTokenTraceback(logging.Filter):
    """Drop PTB's own traceback of a rejected token: the run loop reports it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, InvalidToken)


def quiet_startup_errors() -> None:
    """Keep start-up failures to the one line the run loop logs (no PTB traceback)."""
    ptb = logging.getLogger("telegram.ext")
    if not any(isinstance(f, _RejectedTokenTraceback) for f in ptb.filters):
        ptb.addFilter(_RejectedTokenTraceback())


def _polling_error_callback(app: Application) -> Any:
    """getUpdates errors go to the error handler, as `run_polling` arranges (409 Conflict …)."""

    def on_error(exc: TelegramError) -> None:
        app.create_task(app.process_error(error=exc, update=None))

    return on_error


async def _set_commands(app: Application) -> None:
    """Set the public command menu (admin commands stay out of it; /admin lists them)."""
    try:
        await app.bot.set_my_commands(
            [BotCommand(name, replies.TG_COMMAND_MENU[name]) for name in MENU_COMMANDS])
    except TelegramError as exc:  # the menu is a convenience; never refuse to start over it
        logger.warning("setMyCommands failed: %s", exc)


def build_application(services: Services, sender: TelegramSender,
                      own_services: bool = True) -> Application:
    """Build the PTB Application for `services`: handlers and the start and stop hooks.

    Args:
        services: The core, built with `sender` as the Telegram sender.
        sender: Broadcasts and admin notices leave through it (its own connection pool).
        own_services: Whether the application starts and stops the services (the scheduler)
            itself; False when another channel shares them and the launcher does it.
    """
    settings = services.settings
    if not settings.telegram_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")

    async def start(app: Application) -> None:
        """post_init: the command menu, the broadcast sender, then broadcasts resume."""
        await _set_commands(app)
        await sender.start()
        if own_services:
            await services.start()

    async def stop(_app: Application) -> None:
        """post_stop: deliveries finish their in-flight messages (the rest resumes next start).

        Runs before the application shuts its bot down, so a last progress report still goes.
        """
        if own_services:
            await services.stop()

    async def close(_app: Application) -> None:
        """post_shutdown: close the broadcast connection pool."""
        await sender.stop()

    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(ChatOrderedProcessor(CONCURRENT_UPDATES))
        # Replies take the core's one pace, as broadcasts and notices do: one message a second
        # per chat (20 a minute in groups), the shared budget, flood waits honoured.
        .rate_limiter(PaceLimiter(services.pace))
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True),
                           allow_sending_without_reply=True))
        .job_queue(None)  # timers live in bot/scheduler.py
        .post_init(start)
        .post_stop(stop)
        .post_shutdown(close)
    )
    if settings.telegram_base_url:
        base_url, base_file_url = api_urls(settings.telegram_base_url)
        builder = builder.base_url(base_url).base_file_url(base_file_url)
    app = builder.build()
    app.bot_data["services"] = services
    app.bot_data["conversation"] = Conversation(services, words=False)
    register_handlers(app)
    return app


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Arguments for `run_webhook`/`Updater.start_webhook` from the settings.

    The local path is the path of WEBHOOK_URL (a reverse proxy forwards it unchanged), and
    Telegram must echo WEBHOOK_SECRET in `X-Telegram-Bot-Api-Secret-Token`; PTB answers 403
    to any request without it.
    """
    return {
        "listen": settings.webhook_listen, "port": settings.webhook_port,
        "url_path": urlsplit(settings.webhook_url or "").path.lstrip("/"),
        "webhook_url": settings.webhook_url, "secret_token": settings.webhook_secret,
        "allowed_updates": list(ALLOWED_UPDATES),
    }


@asynccontextmanager
async def serving(app: Application, poll_timeout: dt.timedelta = POLL_TIMEOUT,
                  bootstrap_retries: int = 0) -> AsyncIterator[Application]:
    """Run `app` on the running loop as `run_polling`/`run_webhook` do, hooks included.

    For running beside another channel on one event loop (and for tests). Start: initialize,
    post_init, start, then long polling or the webhook (WEBHOOK_URL). Stop, in `run_polling`'s
    order: updater, application, post_stop, shutdown, post_shutdown.
    """
    settings: Settings = app.bot_data["services"].settings
    try:
        async with _token_checked(app):
            if app.post_init:  # run_polling() calls the hooks; starting by hand we must too
                await app.post_init(app)
            await app.start()
            if settings.webhook_url:
                await app.updater.start_webhook(**webhook_options(settings),
                                                bootstrap_retries=bootstrap_retries)
            else:
                await app.updater.start_polling(timeout=poll_timeout,
                                                allowed_updates=list(ALLOWED_UPDATES),
                                                bootstrap_retries=bootstrap_retries,
                                                error_callback=_polling_error_callback(app))
            try:
                yield app
            finally:
                await app.updater.stop()
                await app.stop()
                if app.post_stop:
                    await app.post_stop(app)
    finally:
        if app.post_shutdown:
            await app.post_shutdown(app)


@asynccontextmanager
async def _token_checked(app: Application) -> AsyncIterator[Application]:
    """`async with app`, with a rejected token raised as `RejectedToken` (no token in it)."""
    try:
        await app.initialize()
    except Exception as exc:
        await app.shutdown()
        if isinstance(exc, InvalidToken):
            raise RejectedToken(REJECTED_TOKEN) from None
        raise
    try:
        yield app
    finally:
        await app.shutdown()


def run_telegram(settings: Settings, kb: KnowledgeBase) -> bool:
    """Run the bot until interrupted: long polling, or a webhook when WEBHOOK_URL is set.

    Returns:
        False if Telegram refused to start the bot (bad token, unreachable after retries); the
        reason is logged without the exception's text, which can contain the token.
    """
    if not settings.telegram_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    install_log_hygiene([settings.telegram_token], logging.getLogger().handlers)
    quiet_startup_errors()
    sender = telegram_sender(settings)
    services = build_services(settings, kb, senders={Channel.TELEGRAM: sender})
    app = build_application(services, sender)
    retries = START_ATTEMPTS - 1  # getMe and (de)registering the webhook, on network errors
    try:
        if settings.webhook_url:
            logger.info("starting webhook on %s:%d", settings.webhook_listen,
                        settings.webhook_port)
            app.run_webhook(**webhook_options(settings), bootstrap_retries=retries)
        else:
            logger.info("starting long polling")
            app.run_polling(timeout=POLL_TIMEOUT, allowed_updates=list(ALLOWED_UPDATES),
                            bootstrap_retries=retries)
    except InvalidToken:
        logger.error(REJECTED_TOKEN)
        return False
    except TelegramError as exc:  # run_* only raise these while starting up
        logger.error("could not start the Telegram bot: %s", type(exc).__name__)
        return False
    finally:
        services.close()
    return True
