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

Pacing is the process's one `Pace` (bot/pace.py), shared with interactive replies and admin
notices: each copy waits for its chat's turn (one message a second to a chat on Telegram) and
for its channel's budget, where replies go first. A RetryAfter for one chat stops that chat
only (its worker waits it out, the others keep going); one that is the channel's stops every
worker on that channel, and nothing else in the event loop.

Each copy carries the header and stop line of `replies.broadcast_copy`; admin texts are kept
short enough (`replies.broadcast_room`) that a copy is still one message. Broadcast texts are
markup (admins may format them, calendar texts are escaped); notices are plain text, escaped
by the `Notifier`.

Progress goes to `on_progress` at most every `progress_seconds` (and once at the end). The time
a broadcast has spent sending is stored with it at each report, so after a crash the final
report counts sending time, not the downtime in between (a hard crash loses at most the last
`progress_seconds` of the count).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from bot import replies
from bot.chunks import split_markup
from bot.config import DEFAULT_BROADCAST_SENDER
from bot.markup import escape
from bot.models import Broadcast, BroadcastStatus, Channel, ChatRef, DeliveryStatus
from bot.pace import FloodScope, Pace
from bot.store import Store

logger = logging.getLogger(__name__)

DEFAULT_WORKERS = 8          # enough to keep the pace with up to ~300 ms per request
MAX_ATTEMPTS = 5             # tries of one delivery before a transient error counts as failed
BACKOFF_BASE = 1.0           # seconds before the first retry; doubles each time
BACKOFF_MAX = 60.0
MAX_RETRY_AFTERS = 10        # RetryAfter answers tolerated for one delivery
PROGRESS_SECONDS = 5.0       # at most one progress report this often


def utc_now() -> dt.datetime:
    """Return the current time as an aware UTC datetime (the default wall clock)."""
    return dt.datetime.now(dt.UTC)


class Outcome(StrEnum):
    """How one send ended, as the Sender saw it."""

    SENT = "sent"
    BLOCKED = "blocked"          # 403 Forbidden, chat not found, user deactivated: never retry
    RETRY_AFTER = "retry_after"  # 429 with a wait: pause that chat (or channel), then retry
    TRANSIENT = "transient"      # timeout, 5xx, network: retry with backoff
    FAILED = "failed"            # anything else (e.g. 400 Bad Request): give up on this chat


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one `Sender.send_text` call; build it with the class methods."""

    outcome: Outcome
    retry_after: float = 0.0
    error: str | None = None
    message_id: str | None = None
    scope: FloodScope = FloodScope.UNKNOWN

    @classmethod
    def sent(cls, message_id: str | None = None) -> SendResult:
        """The message was accepted (with the transport's id for it, if it gives one)."""
        return cls(Outcome.SENT, message_id=message_id)

    @classmethod
    def blocked(cls, error: str = "blocked") -> SendResult:
        """The chat cannot be reached any more (blocked, not found, deactivated)."""
        return cls(Outcome.BLOCKED, error=error)

    @classmethod
    def retry(cls, after: float | dt.timedelta, error: str | None = None,
              scope: FloodScope = FloodScope.UNKNOWN) -> SendResult:
        """Flood control: wait `after` (seconds, or a timedelta as PTB may give) and retry.

        `scope` is the limit it came from, when the transport says (see `Pace.flood`).
        """
        seconds = after.total_seconds() if isinstance(after, dt.timedelta) else float(after)
        return cls(Outcome.RETRY_AFTER, retry_after=max(0.0, seconds),
                   error=error or f"retry after {seconds:g} s", scope=scope)

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

    Contract: `text` is markup (bot/markup.py: a broadcast's own, admin notices escaped), at
    most 4,096 characters, and becomes exactly one message in the channel's formatting. The call
    never raises for delivery problems: it maps them to a `SendResult` (RetryAfter →
    `retry`, Forbidden / chat not found → `blocked`, timeouts / 5xx / network → `transient`,
    other errors → `failed`). It does not retry, sleep or pace itself: its callers take the
    `Pace` first.
    """

    async def send_text(self, chat: ChatRef, text: str) -> SendResult:
        """Send `text` to `chat` once."""
        ...


class Editor(Protocol):
    """A Sender whose channel can edit a sent message (Telegram; WhatsApp cannot)."""

    async def edit_text(self, chat: ChatRef, message_id: str, text: str) -> SendResult:
        """Replace the text of a message sent earlier; "not modified" counts as sent."""
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

    def can_edit(self, channel: Channel) -> bool:
        """Whether messages sent on `channel` can be edited in place."""
        return callable(getattr(self.by_channel.get(channel), "edit_text", None))

    async def edit_text(self, chat: ChatRef, message_id: str, text: str) -> SendResult:
        """Edit through the chat's channel (failed where the channel cannot edit)."""
        sender = self.by_channel.get(chat.channel)
        if sender is None or not self.can_edit(chat.channel):
            return SendResult.failed(f"channel {chat.channel} cannot edit messages")
        return await sender.edit_text(chat, message_id, text)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Progress or result of a broadcast, for the admin who started it.

    `elapsed` is the time spent sending (over every run of the broadcast, without the
    downtime between them); `eta` the remaining time at the current pace, while it sends.
    """

    broadcast_id: int
    sent: int
    pending: int
    failed: int
    blocked: int
    elapsed: dt.timedelta
    finished: bool
    status: BroadcastStatus = BroadcastStatus.SENDING
    eta: dt.timedelta | None = None

    @property
    def total(self) -> int:
        """Every chat in the audience."""
        return self.sent + self.pending + self.failed + self.blocked

    @property
    def done(self) -> int:
        """Chats whose delivery ended (sent, failed or blocked)."""
        return self.total - self.pending

    @property
    def rate(self) -> float:
        """Messages sent per second of sending time."""
        seconds = self.elapsed.total_seconds()
        return self.sent / seconds if seconds > 0 else 0.0


ProgressCallback = Callable[[DeliveryReport], Awaitable[None] | None]


def report_for(store: Store, broadcast: Broadcast) -> DeliveryReport:
    """Build the report of a broadcast from what is stored (running or not)."""
    counts = store.delivery_counts(broadcast.id)
    return DeliveryReport(
        broadcast_id=broadcast.id, sent=counts.sent, pending=counts.pending,
        failed=counts.failed, blocked=counts.blocked,
        elapsed=dt.timedelta(seconds=broadcast.sending_seconds),
        finished=broadcast.status is not BroadcastStatus.SENDING, status=broadcast.status)


Frame = Callable[[str, Channel], str]


def _default_frame(text: str, channel: Channel) -> str:
    return replies.broadcast_copy(text, channel, DEFAULT_BROADCAST_SENDER)


@dataclass(slots=True)
class _Run:
    broadcast: Broadcast
    chats: deque[ChatRef]
    on_progress: ProgressCallback | None
    started: float                    # clock reading when this run began
    sent_before: float                # seconds spent sending in earlier runs
    reported: float                   # clock reading of the last progress report
    parts: dict[Channel, Sequence[str]] = field(default_factory=dict)
    done_here: int = 0                # deliveries ended in this run (for the ETA)
    retry_afters: int = 0


class Broadcaster:
    """Delivers broadcasts one at a time through a `Sender` (see the module docstring).

    Args:
        store: Where broadcasts and deliveries live.
        sender: The channel adapter (`Senders` over several channels).
        pace: The process's one pace (its clock and sleep are the Broadcaster's too).
        workers: Concurrent sends; also the duplicate bound after a crash.
        max_attempts: Tries of a delivery hit by transient errors before it counts as failed.
        backoff: Seconds before the first retry of a transient error (doubling, capped by
            `max_backoff`).
        progress_seconds: At most one progress report this often.
        now: Aware UTC wall clock (stored timestamps).
        split: Splits a long text into message-sized parts.
        frame: A broadcast's text as the copy a chat of a channel receives (header, stop line).
    """

    def __init__(self, store: Store, sender: Sender, pace: Pace, *,
                 workers: int = DEFAULT_WORKERS, max_attempts: int = MAX_ATTEMPTS,
                 backoff: float = BACKOFF_BASE, max_backoff: float = BACKOFF_MAX,
                 progress_seconds: float = PROGRESS_SECONDS,
                 now: Callable[[], dt.datetime] = utc_now,
                 split: Callable[[str], Sequence[str]] = split_markup,
                 frame: Frame = _default_frame) -> None:
        if workers < 1 or max_attempts < 1 or progress_seconds <= 0:
            raise ValueError("workers and max_attempts must be at least 1, progress_seconds "
                             "positive")
        self.store = store
        self.sender = sender
        self.pace = pace
        self.workers = workers
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.progress_seconds = progress_seconds
        self.clock = pace.clock
        self.sleep = pace.sleep
        self.now = now
        self.split = split
        self.frame = frame
        self._lock = asyncio.Lock()
        self._stopping = False

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
            if broadcast.notify_chat in chats:  # the admin's own copy after the others
                chats.remove(broadcast.notify_chat)
                chats.append(broadcast.notify_chat)
            logger.info("broadcast %s: %d chats to send", broadcast_id, len(chats))
            started = self.clock()
            run = _Run(broadcast, deque(chats), on_progress, started=started,
                       sent_before=broadcast.sending_seconds, reported=started)
            workers = min(self.workers, len(chats))
            async with asyncio.TaskGroup() as group:  # one failure cancels the other workers
                for _ in range(workers):
                    group.create_task(self._work(run))
            self.store.record_sending_time(broadcast_id, self._sending_seconds(run))
            self.store.finish_broadcast(broadcast_id, self.now())
            report = self._report(run)
            logger.info("broadcast %s: %d sent, %d pending, %d failed, %d blocked, %d RetryAfter",
                        broadcast_id, report.sent, report.pending, report.failed, report.blocked,
                        run.retry_afters)
            await _emit(run.on_progress, report)
            return report

    def _sending_seconds(self, run: _Run) -> float:
        return run.sent_before + self.clock() - run.started

    def _report(self, run: _Run) -> DeliveryReport:
        """Stored counts, with the sending time and, while sending, the time left."""
        broadcast = self.store.broadcast(run.broadcast.id) or run.broadcast
        report = report_for(self.store, broadcast)
        here = self.clock() - run.started
        eta = (dt.timedelta(seconds=report.pending * here / run.done_here)
               if run.done_here and not report.finished else None)
        return replace(report, elapsed=dt.timedelta(seconds=self._sending_seconds(run)),
                          eta=eta)

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
            run.done_here += 1
            if self.clock() - run.reported >= self.progress_seconds and run.chats:
                run.reported = self.clock()
                self.store.record_sending_time(bid, self._sending_seconds(run))
                await _emit(run.on_progress, self._report(run))

    def _parts(self, run: _Run, channel: Channel) -> Sequence[str]:
        parts = run.parts.get(channel)
        if parts is None:
            parts = run.parts[channel] = self.split(
                self.frame(run.broadcast.text, channel)) or [""]
        return parts

    async def _send_parts(self, run: _Run,
                          chat: ChatRef) -> tuple[DeliveryStatus, str | None, str | None]:
        """Send every part to one chat; return its final status, error and last message id."""
        attempts, retry_afters, index = 1, 0, 0
        parts = self._parts(run, chat.channel)
        message_id = None
        while index < len(parts):
            async with self.pace.turn(chat, bulk=True):
                try:
                    result = await self.sender.send_text(chat, parts[index])
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
                self.pace.flood(chat, result.retry_after, result.scope)
                if retry_afters > MAX_RETRY_AFTERS:
                    return DeliveryStatus.FAILED, "too many RetryAfter answers", None
            else:
                if attempts >= self.max_attempts:
                    return DeliveryStatus.FAILED, result.error, None
                self.store.retry_delivery(run.broadcast.id, chat, result.error or "transient")
                await self.sleep(min(self.max_backoff, self.backoff * 2 ** (attempts - 1)))
                attempts += 1
        return DeliveryStatus.SENT, None, message_id


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
SPARSE_PROGRESS = 300.0  # seconds between two progress messages where they cannot be edited
NOTICE_RETRY_AFTERS = 3  # RetryAfter answers tolerated for one notice


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for admins (sent to each chat through its channel).

    `progress_of` names the broadcast whose progress it reports: such notices are one message
    per chat, edited in place where the channel can edit (Telegram), else sent sparsely, at
    most every `SPARSE_PROGRESS` seconds (WhatsApp); a `final` one is always sent.
    """

    chat_ids: tuple[ChatRef, ...]
    text: str
    progress_of: int | None = None
    final: bool = False


Notify = Callable[[Notice], Awaitable[None]]


class Notifier:
    """A `Notify` that sends notices through `sender`, each message in a turn of the `pace`.

    An admin who cannot be reached is logged and skipped; the others still get the notice.
    A RetryAfter waits (through the pace) and tries again.
    """

    def __init__(self, sender: Senders, pace: Pace, sparse: float = SPARSE_PROGRESS) -> None:
        self.sender = sender
        self.pace = pace
        self.sparse = sparse
        self._progress: dict[tuple[int, ChatRef], tuple[str | None, float]] = {}

    async def __call__(self, notice: Notice) -> None:
        """Send (or, for progress, edit) the notice in each of its chats (as escaped markup)."""
        notice = replace(notice, text=escape(notice.text))
        for chat in notice.chat_ids:
            if notice.progress_of is None:
                await self._send(chat, notice.text)
            else:
                await self._progress_in(chat, notice)

    async def _progress_in(self, chat: ChatRef, notice: Notice) -> None:
        key = (notice.progress_of or 0, chat)
        message_id, at = self._progress.pop(key, (None, float("-inf")))
        if notice.final:
            if message_id is None or not await self._edit(chat, message_id, notice.text):
                await self._send(chat, notice.text)
            return
        if self.sender.can_edit(chat.channel):
            if message_id is not None and await self._edit(chat, message_id, notice.text):
                self._progress[key] = (message_id, at)
                return
        elif self.pace.clock() - at < self.sparse:
            self._progress[key] = (message_id, at)
            return
        self._progress[key] = (await self._send(chat, notice.text), self.pace.clock())

    async def _send(self, chat: ChatRef, text: str) -> str | None:
        """Send every part; return the last part's message id (None if it failed)."""
        message_id = None
        for part in split_markup(text):
            result = await self._try(chat, lambda part=part: self.sender.send_text(chat, part),
                                     edit=False)
            if result.outcome is not Outcome.SENT:
                logger.warning("could not notify %s: %s", chat, result.error)
                return None
            message_id = result.message_id
        return message_id

    async def _edit(self, chat: ChatRef, message_id: str, text: str) -> bool:
        result = await self._try(chat, lambda: self.sender.edit_text(chat, message_id, text),
                                 edit=True)
        if result.outcome is not Outcome.SENT:
            logger.info("progress message in %s not edited (%s): sending a new one", chat,
                        result.error)
        return result.outcome is Outcome.SENT

    async def _try(self, chat: ChatRef, call: Callable[[], Awaitable[SendResult]],
                   edit: bool) -> SendResult:
        for _ in range(NOTICE_RETRY_AFTERS + 1):
            async with self.pace.turn(chat, edit=edit):
                result = await call()
            if result.outcome is not Outcome.RETRY_AFTER:
                return result
            self.pace.flood(chat, result.retry_after, result.scope)
        return result
