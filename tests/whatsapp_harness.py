"""Run the real WhatsApp channel against the fake Graph API (shared by e2e tests and benchmarks).

`running_whatsapp` wires the production parts as the launcher does — the store, pywa's client
with its session pointed at the fake (`WHATSAPP_API_URL`), the WhatsApp sender, the core, the
handlers — and serves the real FastAPI webhook with uvicorn on a free loopback port, in the
test's event loop. The test then POSTs signed webhook updates (`Webhook`) and waits for what the
fake Graph API received. Blocking calls run in threads, so the server keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from bot.channels.whatsapp.application import WhatsAppApp
from bot.channels.whatsapp.handlers import WhatsAppChannel
from bot.config import Settings
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import Channel
from bot.pace import Pace
from bot.services import Clock, Services, build_services
from bot.store import Store
from tests.broadcast_fakes import quick_pace
from tests.fake_graph_api import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeGraphApi,
    SentRequest,
    Webhook,
)

WAIT_SECONDS = 10.0


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def whatsapp_settings(graph: FakeGraphApi, db_path: Path, **overrides: Any) -> Settings:
    """Settings pointing WhatsApp at the fake Graph API, a free port and a private SQLite file."""
    values: dict[str, Any] = {
        "whatsapp_phone_number_id": PHONE_NUMBER_ID, "whatsapp_access_token": TOKEN,
        "whatsapp_app_secret": APP_SECRET, "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_api_url": graph.url, "whatsapp_webhook_listen": "127.0.0.1",
        "whatsapp_webhook_port": free_port(), "db_path": db_path,
        "whatsapp_reminder_template": "pengingat_netralitas:id", **overrides}
    return replace(Settings(), **values)


@dataclass(slots=True)
class WhatsAppHarness:
    """The running channel, its core, the fake Graph API and a signed-webhook poster."""

    graph: FakeGraphApi
    services: Services
    channel: WhatsAppChannel
    webhook: Webhook
    url: str

    async def post(self, update: dict[str, Any], signed: bool = True,
                   secret: str | None = None) -> httpx.Response:
        """POST a webhook update (signed unless told otherwise), off the event loop."""
        return await asyncio.to_thread(self.webhook.post, update, signed, secret)

    async def reply(self, to: str, since: int, contains: str | None = None,
                    timeout: float = WAIT_SECONDS) -> SentRequest:
        """Wait for a successful send to `to` after `since`."""
        return await asyncio.to_thread(self.graph.wait_for_reply, to, since, timeout, contains)

    async def wait_for(self, predicate: Callable[[SentRequest], bool], since: int = 0,
                       timeout: float = WAIT_SECONDS) -> SentRequest:
        """Wait for any recorded request matching `predicate` after `since`."""
        return await asyncio.to_thread(self.graph.wait_for, predicate, timeout, since)

    async def ask(self, wa_id: str, text: str) -> SentRequest:
        """Send a text; return the last message of the bot's answer."""
        since = self.graph.mark()
        response = await self.post(self.webhook.text(wa_id, text))
        assert response.status_code == 200, response.text
        first = await self.reply(wa_id, since)
        await self.settled(wa_id)
        return self.graph.sent(wa_id, since)[-1] if self.graph.sent(wa_id, since) else first

    async def settled(self, wa_id: str, quiet: float = 0.15) -> None:
        """Wait until no new message to `wa_id` arrived for `quiet` seconds (a reply's parts)."""
        count = -1
        while count != len(self.graph.sent(wa_id)):
            count = len(self.graph.sent(wa_id))
            await asyncio.sleep(quiet)


@asynccontextmanager
async def running_whatsapp(graph: FakeGraphApi, kb: KnowledgeBase, settings: Settings,
                           clock: Clock, dialogue: Dialogue | None = None,
                           pace: Pace | None = None) -> AsyncIterator[WhatsAppHarness]:
    """Serve the production WhatsApp channel against `graph`; stop it afterwards.

    `pace` defaults to `quick_pace` (pair-rate gaps of 10 ms): pass the real one to test it.
    """
    store = Store(settings.db_path)
    whatsapp = WhatsAppApp.build(settings, store, now=clock)
    services = build_services(settings, kb, senders={Channel.WHATSAPP: whatsapp.sender},
                              clock=clock, store=store, dialogue=dialogue,
                              pace=pace or quick_pace(settings))
    channel = whatsapp.attach(services)
    server = whatsapp.server()
    task = asyncio.create_task(server.serve())
    url = (f"http://127.0.0.1:{settings.whatsapp_webhook_port}"
           f"{settings.whatsapp_webhook_path}")
    webhook = Webhook(url)
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        await services.start()
        yield WhatsAppHarness(graph, services, channel, webhook, url)
    finally:
        await services.stop()
        server.should_exit = True
        await task
        webhook.close()
        await whatsapp.close()
        services.close()
