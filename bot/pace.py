"""One pace for every outgoing message: per-chat gaps, one budget per channel, flood waits.

Every message the bot sends — an interactive reply, an admin notice, a broadcast copy — is sent
inside a turn of the one `Pace` of the process (`Services.pace`), whichever code sends it:

* **per chat**: a token bucket per chat (Telegram: one message a second, a group one every 3 s,
  i.e. 20 a minute; WhatsApp: the pair rate, one every 6 s after a short burst), counted from
  when the previous message was answered, and one message per chat at a time, in order;
* **per channel**: one budget of `rate` messages a second (BROADCAST_RATE on Telegram,
  WHATSAPP_BROADCAST_RATE on WhatsApp), a token bucket of capacity 1, so any `rate` + 1
  consecutive messages on a channel span at least a second. Interactive replies and notices
  take it before broadcast copies (`bulk`), so answers do not queue behind a broadcast;
* **flood waits**: a RetryAfter (429) stops that chat until it is over, and nothing is sent
  there meanwhile, a reply included. A channel-wide limit (WhatsApp's 130429, or 429s for two
  different chats within one wait on Telegram, which does not say which limit it was) stops the
  whole channel. A per-chat 429 alone therefore never pauses a broadcast's other chats.

Edits (progress messages, pressed buttons) create no message: they take the channel's budget
and honour flood waits, but not the per-chat gap. Transport-free: the channels say whether a
chat is a group and report flood waits; the clock and sleep are injected, so tests run on
virtual time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from enum import StrEnum

from bot.config import Settings
from bot.models import Channel, ChatRef

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

TELEGRAM_CHAT_GAP = 1.0    # seconds between two messages to one chat
TELEGRAM_GROUP_GAP = 3.0   # 20 messages a minute to one group
WHATSAPP_PAIR_GAP = 6.0    # the Cloud API's pair rate: about one message every 6 s per user
WHATSAPP_PAIR_BURST = 10   # … after a short burst (a reply's text parts and its buttons)
_SWEEP_AT = 10_000         # chats remembered before idle ones are forgotten
_EPSILON = 1e-9


class FloodScope(StrEnum):
    """Which limit a RetryAfter came from, as far as the transport says."""

    CHAT = "chat"        # this chat only (WhatsApp's pair rate)
    CHANNEL = "channel"  # the whole channel (WhatsApp's 130429)
    UNKNOWN = "unknown"  # Telegram's 429: a second chat flooded within the wait means channel


@dataclass(frozen=True, slots=True)
class Limits:
    """One channel's sending limits.

    Args:
        rate: Messages a second over the whole channel.
        chat_gap: Seconds between two messages to one chat, once its burst is used.
        group_gap: The same for group chats.
        chat_burst: Messages one chat may receive at once before the gap applies.
    """

    rate: float
    chat_gap: float = TELEGRAM_CHAT_GAP
    group_gap: float = TELEGRAM_GROUP_GAP
    chat_burst: int = 1

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.chat_gap <= 0 or self.group_gap <= 0 or self.chat_burst < 1:
            raise ValueError("rate and gaps must be positive and the burst at least 1")


def channel_limits(settings: Settings) -> dict[Channel, Limits]:
    """Each channel's limits from the settings (the rates are the configured ones)."""
    return {
        Channel.TELEGRAM: Limits(settings.broadcast_rate),
        Channel.WHATSAPP: Limits(settings.whatsapp_rate, chat_gap=WHATSAPP_PAIR_GAP,
                                 group_gap=WHATSAPP_PAIR_GAP, chat_burst=WHATSAPP_PAIR_BURST),
    }


class _Bucket:
    """A token bucket (`capacity` tokens, one back every `interval` s) that floods can stop."""

    __slots__ = ("capacity", "interval", "paused_until", "stamp", "tokens")

    def __init__(self, capacity: float, interval: float) -> None:
        self.capacity = capacity
        self.interval = interval
        self.tokens = capacity
        self.stamp = float("-inf")
        self.paused_until = float("-inf")

    def level(self, now: float) -> float:
        if self.stamp == float("-inf"):
            return self.capacity
        return min(self.capacity, self.tokens + (now - self.stamp) / self.interval)

    def wait(self, now: float, tokens: bool = True) -> float:
        """Seconds until a token may be taken (0: now); `tokens=False`: flood waits only."""
        paused = self.paused_until - now
        if not tokens:
            return max(0.0, paused)
        level = self.level(now)
        short = (1 - level) * self.interval if level < 1 - _EPSILON else 0.0
        return max(0.0, paused, short)

    def take(self, now: float) -> None:
        self.tokens = self.level(now) - 1
        self.stamp = now

    def idle(self, now: float) -> bool:
        return now >= self.paused_until and self.level(now) >= self.capacity - _EPSILON


class _Lane:
    """One channel: its budget, the chats' buckets and who waits for a turn."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.budget = _Bucket(1, 1.0 / limits.rate)
        self.chats: dict[ChatRef, _Bucket] = {}
        self.turns: dict[ChatRef, tuple[asyncio.Lock, int]] = {}
        self.urgent_turns: dict[ChatRef, int] = {}  # interactive takers waiting for a chat
        self.urgent = 0  # interactive takers waiting for the budget: bulk ones let them first
        # … and among takers of one kind, first come first served (asyncio.Lock is fair), so a
        # busy chat's next reply cannot keep overtaking another chat's waiting one
        self.queues = {False: asyncio.Lock(), True: asyncio.Lock()}  # by `bulk`
        self.flooded: tuple[ChatRef, float] | None = None  # the last chat flood and its end

    def chat(self, chat: ChatRef, group: bool) -> _Bucket:
        bucket = self.chats.get(chat)
        if bucket is None:
            gap = self.limits.group_gap if group else self.limits.chat_gap
            bucket = self.chats[chat] = _Bucket(1 if group else self.limits.chat_burst, gap)
        return bucket

    def sweep(self, now: float) -> None:
        if len(self.chats) > _SWEEP_AT:
            self.chats = {c: b for c, b in self.chats.items()
                          if c in self.turns or not b.idle(now)}


class Pace:
    """The one pace of a process (see the module docstring).

    Args:
        limits: Each channel's limits; a channel not named gets `fallback`.
        clock: Monotonic seconds.
        sleep: Async sleep.
    """

    def __init__(self, limits: Mapping[Channel, Limits], *, fallback: Limits = Limits(25.0),
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self.fallback = fallback
        self._lanes = {channel: _Lane(channel_limits) for channel, channel_limits
                       in limits.items()}

    def limits(self, channel: Channel) -> Limits:
        """The limits one channel is paced by."""
        return self._lane(channel).limits

    def _lane(self, channel: Channel) -> _Lane:
        lane = self._lanes.get(channel)
        if lane is None:
            lane = self._lanes[channel] = _Lane(self.fallback)
        return lane

    @asynccontextmanager
    async def turn(self, chat: ChatRef, *, group: bool = False, bulk: bool = False,
                   edit: bool = False) -> AsyncIterator[float]:
        """Wait for this chat's and its channel's turn, then send inside the block.

        Yields the clock reading the turn came at. The chat's gap counts from the end of the
        block (when the transport answered), so requests that arrive faster than they left
        still keep the gap, and one message per chat is in flight at a time.

        Args:
            group: The chat is a group (its own, slower gap).
            bulk: A broadcast copy: interactive messages waiting for the budget go first.
            edit: An edit of a sent message: no per-chat gap, but the budget and flood waits.
        """
        lane = self._lane(chat.channel)
        with self._waiting(lane, chat) as lock:
            await self._lock(lane, chat, lock, urgent=not bulk)
            held = True
            try:
                bucket = lane.chat(chat, group)
                while True:
                    while (wait := bucket.wait(self.clock(), tokens=not edit)) > 0:
                        await self.sleep(wait)
                    if bulk and lane.urgent_turns.get(chat):  # a reply to this chat goes first
                        held = False
                        lock.release()
                        await lock.acquire()
                        held = True
                        continue
                    taken = await self._budget(lane, bulk)
                    if bucket.wait(taken, tokens=not edit) <= 0:  # no flood began meanwhile
                        break
                try:
                    yield taken
                finally:
                    if not edit:
                        bucket.take(self.clock())
                    lane.sweep(taken)
            finally:
                if held:
                    lock.release()

    async def _budget(self, lane: _Lane, bulk: bool) -> float:
        """Take a token of the channel's budget (interactive takers first)."""
        budget = lane.budget
        if not bulk:
            lane.urgent += 1
        try:
            async with lane.queues[bulk]:
                while True:
                    now = self.clock()
                    wait = budget.wait(now)
                    if wait <= 0 and (not bulk or not lane.urgent):
                        budget.take(now)
                        return now
                    await self.sleep(wait if wait > 0 else budget.interval)
        finally:
            if not bulk:
                lane.urgent -= 1

    @contextmanager
    def _waiting(self, lane: _Lane, chat: ChatRef) -> Iterator[asyncio.Lock]:
        """The chat's lock (one message at a time, in order), forgotten when nobody waits."""
        lock, waiting = lane.turns.get(chat, (asyncio.Lock(), 0))
        lane.turns[chat] = (lock, waiting + 1)
        try:
            yield lock
        finally:
            lock, waiting = lane.turns[chat]
            if waiting == 1:
                del lane.turns[chat]
            else:
                lane.turns[chat] = (lock, waiting - 1)

    @staticmethod
    async def _lock(lane: _Lane, chat: ChatRef, lock: asyncio.Lock, urgent: bool) -> None:
        """Take the chat's lock; while an `urgent` taker waits, bulk holders let it first."""
        if not urgent:
            await lock.acquire()
            return
        lane.urgent_turns[chat] = lane.urgent_turns.get(chat, 0) + 1
        try:
            await lock.acquire()
        finally:
            left = lane.urgent_turns.pop(chat) - 1
            if left:
                lane.urgent_turns[chat] = left

    def flood(self, chat: ChatRef, seconds: float,
              scope: FloodScope = FloodScope.UNKNOWN) -> None:
        """A RetryAfter of `seconds` for a message to `chat`: nothing goes there until it ends.

        The whole channel waits too when `scope` says so, or when it is unknown and another
        chat of the channel is still in its own flood wait (then it is the channel's limit).
        """
        now = self.clock()
        until = now + max(0.0, seconds)
        lane = self._lane(chat.channel)
        bucket = lane.chat(chat, group=False)
        bucket.paused_until = max(bucket.paused_until, until)
        other = lane.flooded is not None and lane.flooded[0] != chat and lane.flooded[1] > now
        if scope is FloodScope.CHANNEL or (scope is FloodScope.UNKNOWN and other):
            lane.budget.paused_until = max(lane.budget.paused_until, until)
        if scope is not FloodScope.CHANNEL:
            lane.flooded = (chat, until)
