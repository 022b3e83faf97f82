"""The run loop: start the configured channels on one event loop around one core.

* neither Telegram nor WhatsApp configured → the console chat;
* Telegram only → PTB's own `run_polling` / `run_webhook` (`run_telegram`);
* WhatsApp, with or without Telegram → one asyncio loop: the store first (the WhatsApp sender
  reads each chat's 24-hour window from it), then one `Sender` per channel, the core from them
  (`build_services`), the handlers, then the webhook server, Telegram's polling or webhook, and
  the broadcast scheduler. SIGINT/SIGTERM stop it in reverse order: the scheduler lets in-flight
  deliveries finish, then the channels stop, then the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.broadcasts import Sender
from bot.channels.telegram.application import (
    REJECTED_TOKEN,
    RejectedToken,
    build_application,
    quiet_startup_errors,
    run_telegram,
    serving,
)
from bot.channels.telegram.sender import START_ATTEMPTS, telegram_sender
from bot.channels.whatsapp.application import WhatsAppApp
from bot.config import Settings
from bot.knowledge import KnowledgeBase
from bot.models import Channel
from bot.redaction import install_log_hygiene
from bot.services import build_services
from bot.store import Store

logger = logging.getLogger(__name__)


def run(settings: Settings, kb: KnowledgeBase) -> int:
    """Run what the settings configure until interrupted; return the process's exit code."""
    if settings.whatsapp_enabled:
        install_log_hygiene([settings.telegram_token, settings.whatsapp_access_token,
                             settings.whatsapp_app_secret, settings.whatsapp_verify_token],
                            logging.getLogger().handlers)
        quiet_startup_errors()
        try:
            return asyncio.run(serve(settings, kb))
        except RejectedToken:
            logger.error(REJECTED_TOKEN)
            return 2
    if settings.telegram_token:
        return 0 if run_telegram(settings, kb) else 2
    from bot.channels.console import run_console

    services = build_services(settings, kb)
    try:
        run_console(services)
    finally:
        services.close()
    return 0


async def serve(settings: Settings, kb: KnowledgeBase,
                stop: asyncio.Event | None = None) -> int:
    """Serve WhatsApp (and Telegram, if configured) until `stop` is set or a signal arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    store = Store(settings.db_path)
    whatsapp = WhatsAppApp.build(settings, store)
    senders: dict[Channel, Sender] = {Channel.WHATSAPP: whatsapp.sender}
    telegram = telegram_sender(settings) if settings.telegram_token else None
    if telegram is not None:
        senders[Channel.TELEGRAM] = telegram
    services = build_services(settings, kb, senders=senders, store=store)
    whatsapp.attach(services)
    server = whatsapp.server()
    try:
        async with contextlib.AsyncExitStack() as stack:
            if telegram is not None:
                app = build_application(services, telegram, own_services=False)
                await stack.enter_async_context(
                    serving(app, bootstrap_retries=START_ATTEMPTS - 1))
            webhook = asyncio.create_task(server.serve(), name="whatsapp-webhook")
            while not server.started and not webhook.done():
                await asyncio.sleep(0.05)
            if webhook.done():
                logger.error("the WhatsApp webhook server did not start (port %d in use?)",
                             settings.whatsapp_webhook_port)
                return 2
            logger.info("WhatsApp webhook on %s:%d%s", settings.whatsapp_webhook_listen,
                        settings.whatsapp_webhook_port, settings.whatsapp_webhook_path)
            await services.start()
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({webhook, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            await services.stop()
            server.should_exit = True
            await webhook
    finally:
        await whatsapp.close()
        services.close()
    return 0
