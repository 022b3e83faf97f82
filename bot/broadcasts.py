"""The delivery engine: one broadcast to its whole audience, paced, resumable, transport-free.

A `Broadcaster` delivers through a `Sender` (the channel's adapter) and keeps every decision in
SQLite through the `Store`:

1. claim: scheduled → sending and one `pending` delivery row per subscriber of the audience,
   in one transaction;
2. a few workers take the open rows; each marks its row `sending` (committed) *before* calling
   the Sender and `sent` / `failed` / `blocked` after;
3. when no row is pending or in flight, the broadcast is `done`.

Delivery guarantee (the bound quoted in the README). Let W be the number of workers.

* A row is `sending` only while the one worker that marked it owns it: a worker marks at most
  one row at a time and finishes it (sent, failed, blocked) before taking the next, and the
  Broadcaster delivers one broadcast at a time. So at any instant at most W rows are `sending`.
* A row reaches the Sender only after it is committed as `sending`, and a `sent` row is never
  sent again (workers take only `pending`/`sending` rows and every transition checks the
  current status). A `pending` row has therefore never been sent.
* After a hard crash, resuming re-sends the `sending` rows (their message may or may not have
  left) and the `pending` ones. Hence nobody is skipped, and each crash can produce at most W
  duplicate deliveries, one per in-flight chat, each one extra copy of the broadcast (one
  Telegram message for texts up to 4,096 characters). With k crashes during one broadcast the
  total is at most k·W.

Outside crashes, a request that timed out may still have reached Telegram; retrying it (as the
issue asks for timeouts) can then repeat that one message. Telegram offers no idempotency key,
so this is the only other source of a duplicate.

Pacing is a token bucket of capacity 1 per channel, shared by all workers: consecutive messages
on one channel start at least 1/rate seconds apart (each channel has its own rate: Telegram's
and WhatsApp's limits differ), so any `rate` + 1 consecutive messages span at least a second.
A RetryAfter pauses that channel's bucket (every worker sending there waits, nothing else in
the event loop does), and messages to the same chat, including the parts of a long text, start
at least `chat_gap` apart. Clock and sleep are injected, so tests run on a fake clock without
sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from bot.chunks import split_message
from bot.models import Broadcast, BroadcastStatus, Channel, ChatRef, DeliveryStatus
from bot.store import Store

logger = logging.getLogger(__name__)

DEFAULT_RATE = 25.0          # messages per second, overall (Telegram allows about 30)
DEFAULT_WORKERS = 8          # enough to keep the pace with up to ~300 ms per request
CHAT_GAP = 1.0               # seconds between two messages to the same chat
MAX_ATTEMPTS = 5             # tries of one delivery before a transient error counts as failed
BACKOFF_BASE = 1.0           # seconds before the first retry; doubles each time
BACKOFF_MAX = 60.0
MAX_RETRY_AFTERS = 10        # RetryAfter answers tolerated for one delivery
PROGRESS_EVERY = 250         # deliveries between two progress reports
_CHAT_GAP_SWEEP = 10_000     # forget per-chat timestamps older than the gap past this size

Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> dt.datetime:
    """Return the current time as an aware UTC datetime (the default wall clock)."""
    return dt.datetime.now(dt.UTC)


class Outcome(StrEnum):
    """How one send ended, as the Sender saw it."""

    SENT = "sent"
    BLOCKED = "blocked"          # 403 Forbidden, chat not found, user deactivated: never retry
    RETRY_AFTER = "retry_after"  # 429 with a wait: pause everything, then retry
    TRANSIENT = "transient"      # timeout, 5xx, network: retry with backoff
    FAILED = "failed"            # anything else (e.g. 400 Bad Request): give up on this chat


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one `Sender.send_text` call; build it with the class methods."""

    outcome: Outcome
    retry_after: float = 0.0
    error: str | None = None
    message_id: str | None = None

    @classmethod
    def sent(cls, message_id: str | None = None) -> SendResult:
        """The message was accepted (with the transport's id for it, if it gives one)."""
        return cls(Outcome.SENT, message_id=message_id)

    @classmethod
    def blocked(cls, error: str = "blocked") -> SendResult:
        """The chat cannot be reached any more (blocked, not found, deactivated)."""
        return cls(Outcome.BLOCKED, error=error)

    @classmethod
    def retry(cls, after: float | dt.timedelta, error: str | None = None) -> SendResult:
        """Flood control: wait `after` (seconds, or a timedelta as PTB may give) and retry."""
        seconds = after.total_seconds() if isinstance(after, dt.timedelta) else float(after)
        return cls(Outcome.RETRY_AFTER, retry_after=max(0.0, seconds),
                   error=error or f"retry after {seconds:g} s")

    @classmethod
    def transient(cls, error: str) -> SendResult:
        """A timeout, a 5xx or a network error: worth retrying later."""
        return cls(Outcome.TRANSIENT, error=error)

    @classmethod
    def failed(cls, error: str) -> SendResult:
        """A permanent error for this chat (not blocked): do not retry."""
        return cls(Outcome.FAILED, error=error)


class Sender(Protocol):
    """Sends one chat message; the channel's adapter (e.g. Telegram) implements it.

    Contract: `text` is at most 4,096 characters and becomes exactly one message. The call
    never raises for delivery problems: it maps them to a `SendResult` (RetryAfter →
    `retry`, Forbidden / chat not found → `blocked`, timeouts / 5xx / network → `transient`,
    other errors → `failed`). It does not retry or sleep itself: pacing is the Broadcaster's.
    """

    async def send_text(self, chat: ChatRef, text: str) -> SendResult:
        """Send `text` to `chat` once."""
        ...


class Senders:
    """One `Sender` over every channel's: each message goes through its chat's channel.

    A chat on a channel that is not running (say, a WhatsApp subscriber while only Telegram is
    configured) fails without a send, and its row is reported failed.
    """

    def __init__(self, by_channel: Mapping[Channel, Sender]) -> None:
        self.by_channel = dict(by_channel)

    async def send_text(self, chat: ChatRef, text: str) -> SendResult:
        """Send through the chat's channel."""
        sender = self.by_channel.get(chat.channel)
        if sender is None:
            return SendResult.failed(f"channel {chat.channel} is not running")
        return await sender.send_text(chat, text)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Progress or result of a broadcast, for the admin who started it."""

    broadcast_id: int
    sent: int
    pending: int
    failed: int
    blocked: int
    elapsed: dt.timedelta
    finished: bool
    status: BroadcastStatus = BroadcastStatus.SENDING

    @property
    def total(self) -> int:
        """Every chat in the audience."""
        return self.sent + self.pending + self.failed + self.blocked

    @property
    def rate(self) -> float:
        """Messages sent per second so far."""
        seconds = self.elapsed.total_seconds()
        return self.sent / seconds if seconds > 0 else 0.0


ProgressCallback = Callable[[DeliveryReport], Awaitable[None] | None]


def report_for(store: Store, broadcast: Broadcast, now: dt.datetime) -> DeliveryReport:
    """Build the report of a broadcast from what is stored (running or not)."""
    counts = store.delivery_counts(broadcast.id)
    start = broadcast.started_at or now
    end = broadcast.finished_at or now
    return DeliveryReport(
        broadcast_id=broadcast.id, sent=counts.sent, pending=counts.pending,
        failed=counts.failed, blocked=counts.blocked, elapsed=max(end - start, dt.timedelta()),
        finished=broadcast.status is not BroadcastStatus.SENDING, status=broadcast.status)


class TokenBucket:
    """A token bucket of capacity 1: messages start at least 1/rate seconds apart.

    `pause` (RetryAfter) makes every taker wait until the pause is over. Waiting uses the
    injected async `sleep`, so the event loop stays free for interactive replies.
    """

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self.paused_until = float("-inf")

    async def take(self) -> float:
        """Wait for a token; return the clock reading at which it was taken."""
        while True:
            now = self._clock()
            ready = max(self._next, self.paused_until)
            if now >= ready:
                self._next = now + self.interval
                return now
            await self._sleep(ready - now)

    def pause(self, seconds: float) -> None:
        """Let nobody take a token for `seconds` from now (flood control)."""
        self.paused_until = max(self.paused_until, self._clock() + seconds)


@dataclass(slots=True)
class _Run:
    broadcast: Broadcast
    chats: deque[ChatRef]
    parts: Sequence[str]
    on_progress: ProgressCallback | None
    started: float
    finished: int = 0
    retry_afters: int = 0


class Broadcaster:
    """Delivers broadcasts one at a time through a `Sender` (see the module docstring).

    Args:
        store: Where broadcasts and deliveries live.
        sender: The channel adapter (`Senders` over several channels).
        rate: Messages per second on a channel, unless `rates` names that channel.
        rates: Messages per second per channel.
        workers: Concurrent sends; also the duplicate bound after a crash.
        chat_gap: Seconds between two messages to the same chat.
        max_attempts: Tries of a delivery hit by transient errors before it counts as failed.
        backoff: Seconds before the first retry of a transient error (doubling, capped by
            `max_backoff`).
        progress_every: Deliveries between two progress reports.
        clock: Monotonic seconds (pacing).
        sleep: Async sleep (pacing, RetryAfter, backoff).
        now: Aware UTC wall clock (stored timestamps).
        split: Splits a long text into message-sized parts.
    """

    def __init__(self, store: Store, sender: Sender, *, rate: float = DEFAULT_RATE,
                 rates: Mapping[Channel, float] | None = None, workers: int = DEFAULT_WORKERS,
                 chat_gap: float = CHAT_GAP,
                 max_attempts: int = MAX_ATTEMPTS, backoff: float = BACKOFF_BASE,
                 max_backoff: float = BACKOFF_MAX, progress_every: int = PROGRESS_EVERY,
                 clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep,
                 now: Callable[[], dt.datetime] = utc_now,
                 split: Callable[[str], Sequence[str]] = split_message) -> None:
        if workers < 1 or max_attempts < 1 or progress_every < 1:
            raise ValueError("workers, max_attempts and progress_every must be at least 1")
        self.store = store
        self.sender = sender
        self.workers = workers
        self.chat_gap = chat_gap
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.progress_every = progress_every
        self.clock = clock
        self.sleep = sleep
        self.now = now
        self.split = split
        self.rate = rate
        self.buckets = {channel: TokenBucket(channel_rate, clock, sleep)
                        for channel, channel_rate in (rates or {}).items()}
        self._lock = asyncio.Lock()
        self._chat_ready: dict[ChatRef, float] = {}
        self._stopping = False

    def bucket(self, channel: Channel) -> TokenBucket:
        """The pacing bucket of one channel (made at `rate` on first use)."""
        bucket = self.buckets.get(channel)
        if bucket is None:
            bucket = self.buckets[channel] = TokenBucket(self.rate, self.clock, self.sleep)
        return bucket

    def stop(self) -> None:
        """Finish the deliveries in flight, then take no more (the rest resumes at next start).

        Final: call it at shutdown; a stopped Broadcaster delivers nothing further.
        """
        self._stopping = True

    async def deliver(self, broadcast_id: int,
                      on_progress: ProgressCallback | None = None) -> DeliveryReport | None:
        """Deliver a scheduled broadcast, or resume one left `sending`; wait until it ends.

        Broadcasts send one at a time, in the order they were started; one waiting behind
        another is queued here until its turn (however long), never dropped.

        Returns:
            The final report, or None when the broadcast was not deliverable (unknown,
            cancelled, missed, already done, or the broadcaster stopped).

        Raises:
            ExceptionGroup: when a worker fails (e.g. the database is unavailable). The other
                workers are cancelled first, so at most the rows in flight stay `sending` and
                the duplicate bound holds when the broadcast is resumed.
        """
        async with self._lock:  # another broadcast is sending: we wait our turn
            if self._stopping:
                return None
            status = self.store.broadcast_status(broadcast_id)
            if status is BroadcastStatus.SCHEDULED:
                if not self.store.claim_broadcast(broadcast_id, self.now()):
                    return None
            elif status is not BroadcastStatus.SENDING:
                return None
            broadcast = self.store.broadcast(broadcast_id)
            if broadcast is None:  # deleted under our feet; nothing to do
                return None
            chats = self.store.open_deliveries(broadcast_id)
            logger.info("broadcast %s: %d chats to send", broadcast_id, len(chats))
            run = _Run(broadcast, deque(chats), self.split(broadcast.text) or [""], on_progress,
                       started=self.clock())
            workers = min(self.workers, len(chats))
            async with asyncio.TaskGroup() as group:  # one failure cancels the other workers
                for _ in range(workers):
                    group.create_task(self._work(run))
            self.store.finish_broadcast(broadcast_id, self.now())
            report = self._report(run)
            logger.info("broadcast %s: %d sent, %d pending, %d failed, %d blocked, %d RetryAfter",
                        broadcast_id, report.sent, report.pending, report.failed, report.blocked,
                        run.retry_afters)
            await _emit(run.on_progress, report)
            return report

    def _report(self, run: _Run) -> DeliveryReport:
        """Stored counts, with the elapsed time of this run measured on the monotonic clock."""
        broadcast = self.store.broadcast(run.broadcast.id) or run.broadcast
        report = report_for(self.store, broadcast, self.now())
        return replace(report, elapsed=dt.timedelta(seconds=self.clock() - run.started))

    async def _work(self, run: _Run) -> None:
        bid = run.broadcast.id
        while run.chats and not self._stopping:
            if self.store.broadcast_status(bid) is not BroadcastStatus.SENDING:
                return  # cancelled while sending
            chat = run.chats.popleft()
            if not self.store.begin_delivery(bid, chat):
                continue  # left the audience since it was fixed
            status, error, message_id = await self._send_parts(run, chat)
            self.store.finish_delivery(bid, chat, status, self.now(), error, message_id)
            run.finished += 1
            if run.finished % self.progress_every == 0:
                await _emit(run.on_progress, self._report(run))

    async def _send_parts(self, run: _Run,
                          chat: ChatRef) -> tuple[DeliveryStatus, str | None, str | None]:
        """Send every part to one chat; return its final status, error and last message id."""
        attempts, retry_afters, index = 1, 0, 0
        bucket = self.bucket(chat.channel)
        message_id = None
        while index < len(run.parts):
            await self._wait_for_chat(chat)
            started = await bucket.take()
            self._chat_ready[chat] = started + self.chat_gap
            try:
                result = await self.sender.send_text(chat, run.parts[index])
            except Exception as exc:  # a Sender should not raise; retry as if transient
                logger.exception("sender raised for chat %s", chat)
                result = SendResult.transient(f"{type(exc).__name__}: {exc}")
            outcome = result.outcome
            if outcome is Outcome.SENT:
                index += 1
                message_id = result.message_id or message_id
            elif outcome is Outcome.BLOCKED:
                return DeliveryStatus.BLOCKED, result.error, None
            elif outcome is Outcome.FAILED:
                return DeliveryStatus.FAILED, result.error, None
            elif outcome is Outcome.RETRY_AFTER:
                run.retry_afters += 1
                retry_afters += 1
                logger.warning("broadcast %s: RetryAfter %.1f s on %s", run.broadcast.id,
                               result.retry_after, chat.channel)
                bucket.pause(result.retry_after)
                if retry_afters > MAX_RETRY_AFTERS:
                    return DeliveryStatus.FAILED, "too many RetryAfter answers", None
            else:
                if attempts >= self.max_attempts:
                    return DeliveryStatus.FAILED, result.error, None
                self.store.retry_delivery(run.broadcast.id, chat, result.error or "transient")
                await self.sleep(min(self.max_backoff, self.backoff * 2 ** (attempts - 1)))
                attempts += 1
        return DeliveryStatus.SENT, None, message_id

    async def _wait_for_chat(self, chat: ChatRef) -> None:
        while True:
            ready = self._chat_ready.get(chat)
            now = self.clock()
            if ready is None or now >= ready:
                break
            await self.sleep(ready - now)
        if len(self._chat_ready) > _CHAT_GAP_SWEEP:
            self._chat_ready = {c: t for c, t in self._chat_ready.items() if t > now}


async def _emit(callback: ProgressCallback | None, report: DeliveryReport) -> None:
    if callback is None:
        return
    try:
        result = callback(report)
        if inspect.isawaitable(result):
            await result
    except Exception:  # a failing progress message must not stop the broadcast
        logger.exception("progress callback failed for broadcast %s", report.broadcast_id)


# -- notices to admins --------------------------------------------------------------------------
NOTICE_GAP = 1.0  # seconds between two notices to one chat (about one message a second per chat)
# WhatsApp's pair rate: about one message every 6 s to the same user before 131056.
NOTICE_GAPS = {Channel.WHATSAPP: 6.0}


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for admins (sent to each chat through its channel)."""

    chat_ids: tuple[ChatRef, ...]
    text: str


Notify = Callable[[Notice], Awaitable[None]]


def notifier(sender: Sender, gap: float = NOTICE_GAP, clock: Callable[[], float] = time.monotonic,
             sleep: Sleep = asyncio.sleep,
             gaps: Mapping[Channel, float] = NOTICE_GAPS) -> Notify:
    """Return a `Notify` that sends a notice to each of its chats through `sender`.

    Messages to one chat start at least `gap` seconds apart (a broadcast's last progress report
    and its result can otherwise come in the same second), or its channel's gap in `gaps`. An
    admin who cannot be reached is logged and skipped; the others still get the notice.
    """
    next_free: dict[ChatRef, float] = {}

    async def notify(notice: Notice) -> None:
        for chat in notice.chat_ids:
            for part in split_message(notice.text):
                slot = max(clock(), next_free.get(chat, float("-inf")))
                next_free[chat] = slot + gaps.get(chat.channel, gap)  # reserved: no race
                await sleep(slot - clock())
                result = await sender.send_text(chat, part)
                if result.outcome is not Outcome.SENT:
                    logger.warning("could not notify %s: %s", chat, result.error)
                    break

    return notify
