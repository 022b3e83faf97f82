"""The fake Bot API itself: PTB's own Bot sees its failures as Telegram's real errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.channels.telegram.sender import api_urls
from tests.fake_bot_api import (
    FakeBotApi,
    blocked_by_user,
    chat_not_found,
    server_error,
    too_many_requests,
)

# PTB warns that RetryAfter.retry_after will become a timedelta; not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def tg(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    base_url, base_file_url = api_urls(fake_api.url)
    async with Bot(fake_api.token, base_url=base_url, base_file_url=base_file_url) as bot:
        yield bot


async def test_send_records_and_returns_a_message(tg: Bot, fake_api: FakeBotApi) -> None:
    first = await tg.send_message(5, "halo")
    second = await tg.send_message(5, "lagi")
    assert (first.chat.id, first.text, second.message_id) == (5, "halo", first.message_id + 1)
    assert [r.text for r in fake_api.sent(5)] == ["halo", "lagi"]
    edited = await tg.edit_message_text("ubah", chat_id=5, message_id=first.message_id)
    assert edited.text == "ubah"


async def test_injected_failures_become_telegram_errors(tg: Bot, fake_api: FakeBotApi) -> None:
    fake_api.fail(too_many_requests(7), method="sendMessage", chat_id=1)
    fake_api.fail(chat_not_found(), chat_id=2)
    fake_api.fail(server_error(502), method="sendMessage", times=1, chat_id=3)
    fake_api.block(4)
    with pytest.raises(RetryAfter) as flood:
        await tg.send_message(1, "x")
    assert "Retry in 7 seconds" in flood.value.message  # retry_after is an int or a timedelta
    with pytest.raises(BadRequest, match="Chat not found"):
        await tg.send_message(2, "x")
    with pytest.raises(NetworkError):
        await tg.send_message(3, "x")
    for _ in range(2):
        with pytest.raises(Forbidden, match="blocked by the user"):
            await tg.send_message(4, "x")
    await tg.send_message(1, "x")  # one-shot failures are used up
    await tg.send_message(3, "x")
    fake_api.clear_failures()
    await tg.send_message(4, "x")
    assert [r.status for r in fake_api.requests("sendMessage")] == [
        429, 400, 502, 403, 403, 200, 200, 200]


async def test_optional_rate_limit_answers_429(tg: Bot, fake_api: FakeBotApi) -> None:
    fake_api.rate_limit(overall_per_second=3, per_chat_per_second=1)
    await tg.send_message(1, "a")
    with pytest.raises(RetryAfter):
        await tg.send_message(1, "b")  # a second message to one chat within a second
    await tg.send_message(2, "a")
    await tg.send_message(3, "a")
    with pytest.raises(RetryAfter):
        await tg.send_message(4, "a")  # a fourth message overall within a second


async def test_get_updates_long_polls_until_an_update_arrives(tg: Bot,
                                                              fake_api: FakeBotApi) -> None:
    assert await tg.get_updates(timeout=0) == ()
    poll = asyncio.create_task(tg.get_updates(timeout=5))
    await asyncio.to_thread(fake_api.wait_for_count, lambda r: r.method == "getUpdates", 1)
    update_id = fake_api.send_text(9, "/mulai")
    updates = await asyncio.wait_for(poll, 5)
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message.text == "/mulai" and updates[0].message.entities[0].type == (
        "bot_command")
    assert await tg.get_updates(offset=update_id + 1, timeout=0) == ()
    assert fake_api.pending_updates() == 0


def test_blocked_by_user_matches_telegram_wording() -> None:
    assert blocked_by_user().body() == {
        "ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
