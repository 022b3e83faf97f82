"""Fakes for the delivery engine: virtual time (no real sleeping) and a scriptable Sender."""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from bot.broadcasts import Outcome, SendResult
from bot.config import Settings
from bot.models import Channel, ChatRef, DeliveryStatus
from bot.pace import Limits, Pace, channel_limits
from bot.store import Store

T = TypeVar("T")
T0 = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)


class FakeTime:
    """A virtual clock: `sleep` parks the caller until `drive` advances time to its wake-up.

    `drive` lets every runnable task reach its next sleep before jumping to the earliest
    wake-up, so concurrent workers see time advance as they would on a real clock, instantly.
    """

    def __init__(self, start: dt.datetime = T0) -> None:
        self.start = start
        self.t = 0.0
        self.sleeps: list[float] = []
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def monotonic(self) -> float:
        """Seconds since the start."""
        return self.t

    def now(self) -> dt.datetime:
        """The aware UTC wall clock matching `monotonic`."""
        return self.start + dt.timedelta(seconds=self.t)

    def set_now(self, moment: dt.datetime) -> None:
        """Jump the wall clock (and the monotonic clock) forward to `moment`."""
        self.t = max(self.t, (moment - self.start).total_seconds())

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of virtual time."""
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.t + seconds, self._seq, future))
        self._seq += 1
        await future

    async def settle(self, rounds: int = 30) -> None:
        """Let every runnable task run until it waits."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def drive(self, task: asyncio.Future[object],
                    until: Callable[[], bool] | None = None, max_steps: int = 2_000_000) -> None:
        """Advance virtual time until `task` is done (or `until()` holds)."""
        for _ in range(max_steps):
            await self.settle()
            if task.done() or (until is not None and until()):
                return
            if not self._heap:
                raise RuntimeError("deadlock: the task waits on something other than time")
            wake = self._heap[0][0]
            self.t = max(self.t, wake)
            while self._heap and self._heap[0][0] <= wake:
                _, _, future = heapq.heappop(self._heap)
                if not future.done():
                    future.set_result(None)
        raise RuntimeError("too many steps")

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine to completion on virtual time and return its result."""
        task = asyncio.ensure_future(coro)
        await self.drive(task)
        return task.result()


def pace_on(time: FakeTime, rate: float = 25.0, **limits: object) -> Pace:
    """A pace on virtual time: Telegram's limits at `rate` (WhatsApp's own, also at `rate`)."""
    return Pace({Channel.TELEGRAM: Limits(rate, **limits),  # type: ignore[arg-type]
                 Channel.WHATSAPP: Limits(rate, chat_gap=6.0, group_gap=6.0, chat_burst=10)},
                clock=time.monotonic, sleep=time.sleep)


def quick_pace(settings: Settings) -> Pace:
    """The channels' budgets from the settings with per-chat gaps of 10 ms, on the real clock.

    For end-to-end tests that are not about pacing and talk to one chat many times a second;
    the tests about pacing use `channel_limits(settings)` itself.
    """
    return Pace({channel: replace(limits, chat_gap=0.01, group_gap=0.01)
                 for channel, limits in channel_limits(settings).items()})


def tg(chat_id: int) -> ChatRef:
    """A Telegram chat by number (test shorthand)."""
    return ChatRef.telegram(chat_id)


def tgs(*chat_ids: int) -> list[ChatRef]:
    """Telegram chats by number, in the given order."""
    return [ChatRef.telegram(c) for c in chat_ids]


@dataclass
class Call:
    """One send_text call as the fake saw it."""

    at: float
    chat: ChatRef
    text: str
    outcome: Outcome


@dataclass
class FakeSender:
    """A Sender whose answers are scripted per chat; everything else is sent.

    Args:
        time: The virtual clock (for call times and latency).
        script: chat → the results of its first calls, in order.
        blocked: chats that always answer 403.
        latency: virtual seconds each call takes.
    """

    time: FakeTime
    script: dict[ChatRef, list[SendResult]] = field(default_factory=dict)
    blocked: set[ChatRef] = field(default_factory=set)
    latency: float = 0.0
    calls: list[Call] = field(default_factory=list)
    delivered: Counter[ChatRef] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    on_call: Callable[[ChatRef], None] | None = None

    async def send_text(self, chat_id: ChatRef, text: str) -> SendResult:
        """Answer from the script (after `latency`), counting delivered messages."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.on_call is not None:
                self.on_call(chat_id)
            if chat_id in self.blocked:
                result = SendResult.blocked("Forbidden: bot was blocked by the user")
            elif self.script.get(chat_id):
                result = self.script[chat_id].pop(0)
            else:
                result = SendResult.sent()
            self.calls.append(Call(self.time.t, chat_id, text, result.outcome))
            await self.time.sleep(self.latency)
            if result.outcome is Outcome.SENT:
                self.delivered[chat_id] += 1
            return result
        finally:
            self.in_flight -= 1


def subscribe_many(store: Store, chat_ids: Iterable[int], region: str | None = None,
                   now: dt.datetime = T0) -> list[ChatRef]:
    """Subscribe Telegram chats (to one region or all of Indonesia); return them."""
    chats = tgs(*chat_ids)
    for chat in chats:
        store.subscribe(chat, region, now)
    return chats


def sending_rows(path: Path, broadcast_id: int) -> int:
    """Count deliveries in flight, read through a second connection (what a crash leaves)."""
    other = Store(path)
    try:
        return sum(1 for row in other.deliveries(broadcast_id)
                   if row["status"] == DeliveryStatus.SENDING)
    finally:
        other.close()
