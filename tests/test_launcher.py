"""The run loop: Telegram and WhatsApp in one process around one core, as `make run` starts them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx

from bot.channels.launcher import serve
from bot.knowledge import KnowledgeBase
from tests.fake_bot_api import FakeBotApi
from tests.fake_graph_api import VERIFY_TOKEN, FakeGraphApi, Webhook
from tests.whatsapp_harness import whatsapp_settings

QUESTION = "boleh gak pns foto bareng paslon?"


async def _listening(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(url, params={"hub.verify_token": VERIFY_TOKEN,
                                              "hub.challenge": "1", "hub.mode": "subscribe"})
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise TimeoutError("the webhook server did not start")


async def test_both_channels_share_one_core_and_stop_cleanly(
        fake_api: FakeBotApi, kb: KnowledgeBase, tmp_path: Path) -> None:
    with FakeGraphApi() as graph:
        settings = replace(whatsapp_settings(graph, tmp_path / "both.sqlite3"),
                           telegram_token=fake_api.token, telegram_base_url=fake_api.url)
        stop = asyncio.Event()
        running = asyncio.create_task(serve(settings, kb, stop))
        url = f"http://127.0.0.1:{settings.whatsapp_webhook_port}/whatsapp"
        await _listening(url)
        webhook = Webhook(url)
        try:
            since = fake_api.mark()
            fake_api.send_text(1001, QUESTION)
            telegram = await asyncio.to_thread(fake_api.wait_for_message, 1001, since, 10.0)
            mark = graph.mark()
            await asyncio.to_thread(webhook.post, webhook.text("6281234567890", QUESTION))
            whatsapp = await asyncio.to_thread(graph.wait_for_reply, "6281234567890", mark)
        finally:
            webhook.close()
            stop.set()
            assert await asyncio.wait_for(running, 30) == 0
    assert telegram.text.startswith("⛔ DILARANG") and whatsapp.text.startswith("*⛔ DILARANG")
