"""Waking up for broadcasts: SQLite decides what is due, APScheduler only wakes the process.

The only module that imports APScheduler. Nothing is kept in APScheduler that is not in SQLite:
`Scheduler.sync` rebuilds every job from the `broadcasts` table (one date job per scheduled
broadcast, id `broadcast:<id>`, `replace_existing=True`), so a restart, a knowledge reload or an
admin change never leaves a stale or duplicate job. What to do with each broadcast is decided by
the pure function `decide` over (stored broadcast, now, grace), which tests drive with an
injected clock:

* scheduled, time ahead → wait for its job;
* scheduled, time passed by at most the grace window (the bot was down, or "send now") → start;
* scheduled, time passed by more → missed, and the admins are told;
* sending (interrupted by a crash or a shutdown) → resume: chats already sent are skipped.

APScheduler jobs run with `misfire_grace_time=None` so a late wake-up always reaches `decide`,
which applies our grace window in one place.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import replies
from bot.broadcasts import Broadcaster, DeliveryReport, Notice, Notify, Sender, utc_now
from bot.config import Settings
from bot.knowledge import KnowledgeBase
from bot.models import Broadcast, BroadcastStatus, CalendarBroadcast, Channel, ChatRef, Origin
from bot.pace import Pace
from bot.store import CalendarSync, Store
from bot.timetable import calendar_broadcasts

logger = logging.getLogger(__name__)
RECHECK_SECONDS = 5.0

JOB_PREFIX = "broadcast:"
SYNC_JOB = "sync"
RESYNC_EVERY = dt.timedelta(minutes=30)


class Action(StrEnum):
    """What the scheduler does with a stored broadcast now."""

    WAIT = "wait"
    START = "start"
    RESUME = "resume"
    MISS = "miss"


def decide(broadcast: Broadcast, now: dt.datetime, grace: dt.timedelta) -> Action | None:
    """Decide what to do with a broadcast at `now`; None for finished ones."""
    if broadcast.status is BroadcastStatus.SENDING:
        return Action.RESUME
    if broadcast.status is not BroadcastStatus.SCHEDULED:
        return None
    if broadcast.send_at > now:
        return Action.WAIT
    return Action.START if now - broadcast.send_at <= grace else Action.MISS


def plan(broadcasts: Iterable[Broadcast], now: dt.datetime,
         grace: dt.timedelta) -> dict[Action, list[Broadcast]]:
    """Group broadcasts by what `decide` says, keeping their order."""
    grouped: dict[Action, list[Broadcast]] = {action: [] for action in Action}
    for broadcast in broadcasts:
        action = decide(broadcast, now, grace)
        if action is not None:
            grouped[action].append(broadcast)
    return grouped


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one `Scheduler.sync` did."""

    calendar: CalendarSync = field(default_factory=CalendarSync)
    waiting: tuple[int, ...] = ()
    started: tuple[int, ...] = ()
    resumed: tuple[int, ...] = ()
    missed: tuple[Broadcast, ...] = ()


class Scheduler:
    """Keeps APScheduler's date jobs in line with the `broadcasts` table and runs deliveries.

    Start it inside the running event loop (e.g. PTB's `post_init`) with `await start()`, and
    stop it with `await shutdown()` (e.g. `post_shutdown`). Call `sync(now)` after anything
    changes the table (an admin action, a knowledge reload); it is idempotent.

    Args:
        store: The source of truth.
        broadcaster: Delivers one broadcast at a time.
        grace: How late a broadcast may still start (the bot was down at its time).
        admin_ids: Who hears about missed broadcasts and finished calendar reminders.
        tz: The zone times are shown in.
        calendar: Returns the calendar reminders (read again at every sync, so a knowledge
            reload takes effect).
        notify: Sends a `Notice` (the channel's adapter); None = log only.
        now: Aware UTC wall clock.
        resync_every: Period of the safety re-sync (calendar edits, new reminders).
    """

    def __init__(self, store: Store, broadcaster: Broadcaster, *, grace: dt.timedelta,
                 admin_ids: Iterable[ChatRef] = (), tz: dt.tzinfo = dt.UTC,
                 calendar: Callable[[], Sequence[CalendarBroadcast]] = tuple,
                 notify: Notify | None = None, now: Callable[[], dt.datetime] = utc_now,
                 resync_every: dt.timedelta = RESYNC_EVERY) -> None:
        self.store = store
        self.broadcaster = broadcaster
        self.grace = grace
        self.admin_ids = tuple(sorted(admin_ids))
        self.tz = tz
        self.calendar = calendar
        self.notify = notify
        self.now = now
        self.resync_every = resync_every
        self.jobs = AsyncIOScheduler(timezone=dt.UTC)
        self._tasks: dict[int, asyncio.Task[DeliveryReport | None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._recheck: asyncio.TimerHandle | None = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> SyncReport:
        """Start waking up on the running loop, and sync once (resume, catch up, register)."""
        self.jobs.add_job(self._resync, "interval", seconds=self.resync_every.total_seconds(),
                          id=SYNC_JOB, replace_existing=True, coalesce=True,
                          misfire_grace_time=None)
        self.jobs.start()
        return self.sync(self.now())

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop waking up; let deliveries finish their in-flight messages, then stop them.

        Broadcasts left `sending` resume at the next start.
        """
        if self.jobs.running:
            self.jobs.shutdown(wait=False)
        if self._recheck is not None:
            self._recheck.cancel()
        self.broadcaster.stop()
        pending = [t for t in (*self._tasks.values(), *self._background) if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=timeout)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every delivery and notice started so far has finished (for tests)."""
        while pending := [t for t in (*self._tasks.values(), *self._background)
                          if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- syncing ----------------------------------------------------------------------------
    def sync(self, now: dt.datetime) -> SyncReport:
        """Make jobs and deliveries match the table at `now`; idempotent.

        Generates calendar reminders, registers a date job per scheduled broadcast once
        `start` ran (dropping jobs of broadcasts no longer scheduled), starts due ones within
        the grace window, resumes interrupted ones and marks the rest missed (telling the
        admins). Needs a running event loop.
        """
        try:
            calendar = self.store.sync_calendar(self.calendar(), now)
        except Exception:  # a broken calendar must not stop admin broadcasts
            logger.exception("calendar reminders could not be generated")
            calendar = CalendarSync()
        grouped = plan(self.store.broadcasts_in(BroadcastStatus.SCHEDULED,
                                                BroadcastStatus.SENDING), now, self.grace)
        for broadcast in grouped[Action.WAIT]:
            self._register(broadcast)
        self._drop_stale_jobs({b.id for b in grouped[Action.WAIT]})
        for broadcast in grouped[Action.RESUME]:
            if self._launch(broadcast.id):  # left `sending` by a process that stopped
                self._tell_resumed(broadcast)
        for broadcast in grouped[Action.START]:
            self._launch(broadcast.id)
        missed = tuple(b for b in grouped[Action.MISS] if self.store.mark_missed(b.id, now))
        if missed:
            self._tell_admins(replies.render_missed(missed, self.grace, self.tz))
        report = SyncReport(
            calendar=calendar, waiting=tuple(b.id for b in grouped[Action.WAIT]),
            started=tuple(b.id for b in grouped[Action.START]),
            resumed=tuple(b.id for b in grouped[Action.RESUME]), missed=missed)
        logger.info("sync: calendar +%d ~%d -%d, %d waiting, %d started, %d resumed, %d missed",
                    calendar.created, calendar.updated, calendar.cancelled, len(report.waiting),
                    len(report.started), len(report.resumed), len(missed))
        return report

    def job_ids(self) -> list[str]:
        """Ids of the registered broadcast jobs (for tests and diagnostics)."""
        return sorted(j.id for j in self.jobs.get_jobs() if j.id.startswith(JOB_PREFIX))

    def _register(self, broadcast: Broadcast) -> None:
        # Before `start` there is nothing to wake: `start` syncs (and registers) once running.
        # (APScheduler's pending-job list would also ignore replace_existing.)
        if not self.jobs.running:
            return
        self.jobs.add_job(self._fire, "date", run_date=broadcast.send_at,
                          id=f"{JOB_PREFIX}{broadcast.id}", replace_existing=True,
                          kwargs={"broadcast_id": broadcast.id}, misfire_grace_time=None,
                          coalesce=True)

    def _drop_stale_jobs(self, keep: set[int]) -> None:
        if not self.jobs.running:
            return
        for job in self.jobs.get_jobs():
            if job.id.startswith(JOB_PREFIX) and int(job.id.removeprefix(JOB_PREFIX)) not in keep:
                self.jobs.remove_job(job.id)

    async def _resync(self) -> None:
        self.sync(self.now())

    async def _fire(self, broadcast_id: int) -> None:
        """The date job: decide again on the stored state, since it may have changed."""
        now = self.now()
        broadcast = self.store.broadcast(broadcast_id)
        action = decide(broadcast, now, self.grace) if broadcast else None
        if action in (Action.START, Action.RESUME):
            self._launch(broadcast_id)
        elif action is Action.MISS and broadcast and self.store.mark_missed(broadcast_id, now):
            self._tell_admins(replies.render_missed((broadcast,), self.grace, self.tz))
        elif action is Action.WAIT and broadcast:
            # Woken early (the wall clock and ours disagree). Re-adding the job from inside its
            # own run would be skipped by APScheduler (one instance per id), so check again
            # after the remaining time, at least RECHECK_SECONDS later: never a busy loop.
            delay = max(RECHECK_SECONDS, (broadcast.send_at - now).total_seconds())
            self._recheck = asyncio.get_running_loop().call_later(
                delay, lambda: self.sync(self.now()))

    # -- delivering -------------------------------------------------------------------------
    def _launch(self, broadcast_id: int) -> bool:
        """Start delivering unless it already runs here; return whether it was started."""
        task = self._tasks.get(broadcast_id)
        if task is not None and not task.done():
            return False
        task = asyncio.get_running_loop().create_task(self._deliver(broadcast_id),
                                                      name=f"{JOB_PREFIX}{broadcast_id}")
        self._tasks[broadcast_id] = task
        task.add_done_callback(lambda t: self._forget(broadcast_id, t))
        return True

    def _tell_resumed(self, broadcast: Broadcast) -> None:
        """Tell whoever follows the broadcast that it was interrupted, resumes, may repeat."""
        text = replies.BROADCAST_RESUMED.format(id=broadcast.id,
                                                repeat=self.broadcaster.workers)
        if broadcast.notify_chat is None:
            self._tell_admins(text)
            return
        logger.warning("%s", text)
        task = asyncio.get_running_loop().create_task(
            self._send(Notice((broadcast.notify_chat,), text)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _forget(self, broadcast_id: int, task: asyncio.Task[DeliveryReport | None]) -> None:
        if self._tasks.get(broadcast_id) is task:
            del self._tasks[broadcast_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("broadcast %s stopped with an error", broadcast_id,
                         exc_info=task.exception())

    async def _deliver(self, broadcast_id: int) -> DeliveryReport | None:
        broadcast = self.store.broadcast(broadcast_id)
        if broadcast is None:
            return None

        async def on_progress(report: DeliveryReport) -> None:
            if broadcast.notify_chat is not None:
                targets: tuple[ChatRef, ...] = (broadcast.notify_chat,)
            elif report.finished and broadcast.origin is Origin.CALENDAR:
                targets = self.admin_ids
            else:
                return
            await self._send(Notice(targets, replies.render_report(broadcast, report),
                                    progress_of=broadcast.id, final=report.finished))

        # Started here means decided on time (or within the grace window after downtime): if it
        # waits behind another broadcast, it is queued, never missed. The grace window is for
        # downtime only (`decide`), not for waiting in line.
        return await self.broadcaster.deliver(broadcast_id, on_progress)

    # -- notices ----------------------------------------------------------------------------
    def _tell_admins(self, text: str) -> None:
        logger.warning("%s", text)
        if not self.admin_ids or self.notify is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(Notice(self.admin_ids, text)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send(self, notice: Notice) -> None:
        if self.notify is None or not notice.chat_ids:
            return
        try:
            await self.notify(notice)
        except Exception:  # an unreachable admin must not stop a broadcast
            logger.exception("could not notify %s", notice.chat_ids)


def build_scheduler(settings: Settings, store: Store, sender: Sender, pace: Pace,
                    knowledge: Callable[[], KnowledgeBase], notify: Notify | None = None,
                    now: Callable[[], dt.datetime] = utc_now) -> Scheduler:
    """Wire a Broadcaster and a Scheduler from the settings.

    Args:
        sender: Sends to any subscriber's channel (`Senders`).
        pace: The process's one pace (shared with interactive replies).
        knowledge: Returns the current knowledge base (it can be reloaded while running).
    """

    def frame(text: str, channel: Channel) -> str:
        return replies.broadcast_copy(text, channel, settings.broadcast_sender)

    broadcaster = Broadcaster(store, sender, pace, now=now, frame=frame)

    def calendar() -> list[CalendarBroadcast]:
        kb = knowledge()
        return calendar_broadcasts(kb.calendar, kb.regions)

    return Scheduler(store, broadcaster,
                     grace=dt.timedelta(minutes=settings.broadcast_grace_minutes),
                     admin_ids=settings.admins(), tz=settings.timezone, calendar=calendar,
                     notify=notify, now=now)
