"""The WhatsApp application: pywa's client, the webhook server and the handlers, wired.

`WhatsAppApp.build` makes the parts that the core needs first (the client and the broadcast
sender, which reads each chat's 24-hour window from the store); `attach` registers the handlers
once the core is built; `server` is the uvicorn server for the webhook on
WHATSAPP_WEBHOOK_LISTEN:WHATSAPP_WEBHOOK_PORT (TLS by a reverse proxy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI
from pywa_async import WhatsApp

from bot.broadcasts import utc_now
from bot.channels.whatsapp.client import build_client
from bot.channels.whatsapp.handlers import WhatsAppChannel, register_handlers
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.config import Settings
from bot.models import ChatRef
from bot.services import Services
from bot.store import Store


@dataclass(slots=True)
class WhatsAppApp:
    """The WhatsApp channel's parts."""

    settings: Settings
    client: WhatsApp
    app: FastAPI
    session: httpx.AsyncClient
    sender: WhatsAppSender

    @classmethod
    def build(cls, settings: Settings, store: Store,
              now: Callable[[], dt.datetime] = utc_now) -> WhatsAppApp:
        """The client, its webhook app and the broadcast sender (before the core is built)."""
        client, app, session = build_client(settings)

        def last_inbound(chat: ChatRef) -> dt.datetime | None:
            state = store.chat(chat)
            return state.last_inbound_at if state else None

        sender = WhatsAppSender(client, last_inbound, settings.reminder_template, now)
        return cls(settings, client, app, session, sender)

    def attach(self, services: Services) -> WhatsAppChannel:
        """Register the handlers over the built core."""
        channel = WhatsAppChannel(services, self.client, self.sender)
        register_handlers(self.client, channel)
        return channel

    def server(self) -> uvicorn.Server:
        """The webhook's uvicorn server (run it with `serve()` on the running loop)."""
        config = uvicorn.Config(self.app, host=self.settings.whatsapp_webhook_listen,
                                port=self.settings.whatsapp_webhook_port, log_config=None,
                                access_log=False, lifespan="off")
        return uvicorn.Server(config)

    async def close(self) -> None:
        """Close the Graph API connections."""
        await self.session.aclose()
