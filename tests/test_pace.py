"""The one pace of every outgoing message, on virtual time."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from bot.config import Settings
from bot.models import Channel, ChatRef
from bot.pace import FloodScope, Limits, Pace, channel_limits
from tests.broadcast_fakes import FakeTime, pace_on, tg


async def take(pace: Pace, chat: ChatRef, **options: bool) -> float:
    """Take a turn and send nothing (the send takes no time on the virtual clock)."""
    async with pace.turn(chat, **options) as taken:
        return taken


async def test_the_budget_spaces_messages_and_a_channel_flood_stops_them() -> None:
    time = FakeTime()
    pace = pace_on(time, rate=10)

    async def take_all() -> list[float]:
        taken = [await take(pace, tg(n)) for n in range(3)]
        pace.flood(tg(9), 5, FloodScope.CHANNEL)
        taken.append(await take(pace, tg(4)))
        return taken

    assert await time.run(take_all()) == pytest.approx([0.0, 0.1, 0.2, 5.2])
    with pytest.raises(ValueError):
        Limits(0)


async def test_one_chat_gets_one_message_a_second_and_a_group_one_every_three() -> None:
    time = FakeTime()
    pace = pace_on(time, rate=1000)

    async def burst(chat: ChatRef, group: bool) -> list[float]:
        return [await take(pace, chat, group=group) for _ in range(4)]

    private, group = await time.run(asyncio.gather(burst(tg(1), False), burst(tg(-100), True)))
    assert [b - a for a, b in pairwise(private)] == pytest.approx([1.0] * 3)
    assert [b - a for a, b in pairwise(group)] == pytest.approx([3.0] * 3)


async def test_everything_sent_to_one_chat_shares_its_gap() -> None:
    """The admin's scenario: the 'started' reply, their own copy and the report, at once."""
    time = FakeTime()
    pace = pace_on(time, rate=1000)
    admin = tg(900)
    taken = await time.run(asyncio.gather(take(pace, admin), take(pace, admin, bulk=True),
                                          take(pace, admin)))
    assert sorted(taken) == pytest.approx([0.0, 1.0, 2.0])


async def test_a_reply_to_a_chat_goes_before_a_copy_waiting_for_the_same_chat() -> None:
    time = FakeTime()
    pace = pace_on(time, rate=1000)
    admin = tg(900)
    order: list[str] = []

    async def send(name: str, delay: float, bulk: bool) -> None:
        await time.sleep(delay)
        await take(pace, admin, bulk=bulk)
        order.append(name)

    await time.run(asyncio.gather(send("preview", 0, False), send("copy", 0.01, True),
                                  send("started", 0.2, False)))
    assert order == ["preview", "started", "copy"]


async def test_edits_take_the_budget_and_flood_waits_but_not_the_chat_gap() -> None:
    time = FakeTime()
    pace = pace_on(time, rate=1000)
    chat = tg(1)

    async def scenario() -> list[float]:
        taken = [await take(pace, chat), await take(pace, chat, edit=True)]
        pace.flood(chat, 4)
        taken.append(await take(pace, chat, edit=True))
        return taken

    first, edit, after_flood = await time.run(scenario())
    assert edit - first < 0.01 and after_flood == pytest.approx(4.0, abs=0.01)


async def test_one_chats_flood_wait_holds_that_chat_only_unless_another_chat_floods() -> None:
    time = FakeTime()
    pace = pace_on(time, rate=100)

    async def scenario() -> tuple[float, float, float]:
        pace.flood(tg(1), 10)
        other = await take(pace, tg(2))         # not held: it was one chat's 429
        held = await take(pace, tg(1))           # after its wait
        pace.flood(tg(3), 5)
        pace.flood(tg(4), 5)                       # a second chat within the wait: the channel
        channel = await take(pace, tg(5))
        return other, held, channel

    other, held, channel = await time.run(scenario())
    assert other == pytest.approx(0.0)
    assert held == pytest.approx(10.0)
    assert channel == pytest.approx(15.0)


async def test_replies_go_before_broadcast_copies_waiting_for_the_budget() -> None:
    time = FakeTime()
    pace = pace_on(time, rate=10)
    order: list[str] = []

    async def copy(n: int) -> None:
        await take(pace, tg(100 + n), bulk=True)
        order.append(f"copy{n}")

    async def reply() -> None:
        await time.sleep(0.05)  # a question arrives while eight copies wait for the budget
        await take(pace, tg(1))
        order.append("reply")

    await time.run(asyncio.gather(*(copy(n) for n in range(8)), reply()))
    assert order.index("reply") <= 2  # the reply takes the next free token


async def test_whatsapp_allows_a_short_burst_then_its_pair_rate() -> None:
    time = FakeTime()
    pace = Pace(channel_limits(Settings(whatsapp_rate=80)), clock=time.monotonic,
                sleep=time.sleep)
    user = ChatRef.whatsapp("6281234567890")
    taken = await time.run(asyncio.gather(*(take(pace, user) for _ in range(12))))
    assert max(sorted(taken)[:10]) < 1  # a reply's text, list and buttons go at once
    assert sorted(taken)[10:] == pytest.approx([6.0, 12.0], abs=0.2)
    assert pace.limits(Channel.TELEGRAM).rate == Settings().broadcast_rate
