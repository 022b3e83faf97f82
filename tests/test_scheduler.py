"""The scheduler: SQLite decides, APScheduler wakes; restarts, grace window, recurrence."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bot import replies
from bot.broadcasts import Broadcaster, Notice
from bot.config import Settings
from bot.knowledge import KnowledgeBase
from bot.models import (
    Broadcast,
    BroadcastStatus,
    CalendarBroadcast,
    Channel,
    DeliveryStatus,
    Origin,
)
from bot.pace import Pace, channel_limits
from bot.scheduler import JOB_PREFIX, SYNC_JOB, Action, Scheduler, build_scheduler, decide
from bot.scheduler import plan as plan_actions
from bot.store import Store
from bot.timetable import Recurrence, occurrences
from tests.broadcast_fakes import FakeSender, FakeTime, pace_on, subscribe_many, tg, tgs

GRACE = dt.timedelta(minutes=60)
NOW = dt.datetime(2031, 3, 2, 1, 0, tzinfo=dt.UTC)  # ahead of the real clock: no job fires
ADMINS = (tg(900), tg(901))
WIB = dt.timezone(dt.timedelta(hours=7))


class Notices:
    def __init__(self) -> None:
        self.sent: list[Notice] = []

    async def __call__(self, notice: Notice) -> None:
        self.sent.append(notice)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(NOW)


def make_scheduler(store: Store, time: FakeTime, sender: FakeSender | None = None,
                   calendar: list[CalendarBroadcast] | None = None,
                   notices: Notices | None = None) -> Scheduler:
    broadcaster = Broadcaster(store, sender or FakeSender(time), pace_on(time), now=time.now)
    return Scheduler(store, broadcaster, grace=GRACE, admin_ids=ADMINS, tz=WIB,
                     calendar=lambda: calendar or [], notify=notices, now=time.now)


@asynccontextmanager
async def running(scheduler: Scheduler) -> AsyncIterator[Scheduler]:
    """Start APScheduler on the test's loop (NOW is ahead of the real clock: nothing fires)."""
    await scheduler.start()
    try:
        yield scheduler
    finally:
        await scheduler.shutdown()


def admin_broadcast(store: Store, at: dt.datetime, notify_chat: int | None = None) -> int:
    return store.create_broadcast("Tetap netral", at, None, tg(900), at - dt.timedelta(days=1),
                                  tg(notify_chat) if notify_chat else None).id


def stored(status: BroadcastStatus, send_at: dt.datetime) -> Broadcast:
    return Broadcast(id=1, text="x", send_at=send_at, status=status, origin=Origin.ADMIN)


# -- the pure decision --------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "offset", "expected"), [
    (BroadcastStatus.SCHEDULED, dt.timedelta(minutes=5), Action.WAIT),
    (BroadcastStatus.SCHEDULED, dt.timedelta(0), Action.START),
    (BroadcastStatus.SCHEDULED, -dt.timedelta(minutes=59), Action.START),
    (BroadcastStatus.SCHEDULED, -GRACE, Action.START),
    (BroadcastStatus.SCHEDULED, -GRACE - dt.timedelta(seconds=1), Action.MISS),
    (BroadcastStatus.SCHEDULED, -dt.timedelta(days=3), Action.MISS),
    (BroadcastStatus.SENDING, -dt.timedelta(days=3), Action.RESUME),
    (BroadcastStatus.SENDING, dt.timedelta(days=3), Action.RESUME),
    (BroadcastStatus.DONE, -dt.timedelta(minutes=1), None),
    (BroadcastStatus.CANCELLED, dt.timedelta(minutes=1), None),
    (BroadcastStatus.MISSED, -dt.timedelta(days=1), None),
])
def test_decide(status: BroadcastStatus, offset: dt.timedelta, expected: Action | None) -> None:
    assert decide(stored(status, NOW + offset), NOW, GRACE) is expected


def test_plan_groups_in_order() -> None:
    items = [stored(BroadcastStatus.SCHEDULED, NOW + dt.timedelta(hours=h)) for h in (2, -3, 1)]
    grouped = plan_actions(items, NOW, GRACE)
    assert grouped[Action.WAIT] == [items[0], items[2]]
    assert grouped[Action.MISS] == [items[1]]
    assert grouped[Action.START] == grouped[Action.RESUME] == []


# -- syncing ------------------------------------------------------------------------------------
async def test_sync_registers_one_job_per_scheduled_broadcast_idempotently(
        store: Store, time: FakeTime) -> None:
    first = admin_broadcast(store, NOW + dt.timedelta(hours=2))
    second = admin_broadcast(store, NOW + dt.timedelta(days=2))
    async with running(make_scheduler(store, time)) as scheduler:
        report = scheduler.sync(time.now())
        assert report.waiting == (first, second)
        assert scheduler.job_ids() == [f"{JOB_PREFIX}{first}", f"{JOB_PREFIX}{second}"]
        scheduler.sync(time.now())
        assert len(scheduler.job_ids()) == 2  # replace_existing: no duplicates
        job = scheduler.jobs.get_job(f"{JOB_PREFIX}{first}")
        assert job is not None and job.trigger.run_date == NOW + dt.timedelta(hours=2)
        assert job.misfire_grace_time is None and job.kwargs == {"broadcast_id": first}

        store.cancel_broadcast(first, time.now())
        scheduler.sync(time.now())
        assert scheduler.job_ids() == [f"{JOB_PREFIX}{second}"]  # stale job dropped


async def test_restart_catches_up_within_grace_and_reports_the_missed(
        store: Store, time: FakeTime) -> None:
    subscribe_many(store, range(1, 21))
    recent = admin_broadcast(store, NOW - dt.timedelta(minutes=10))
    old = admin_broadcast(store, NOW - dt.timedelta(hours=5))
    later = admin_broadcast(store, NOW + dt.timedelta(hours=1))
    notices = Notices()
    sender = FakeSender(time)
    scheduler = make_scheduler(store, time, sender, notices=notices)

    report = scheduler.sync(time.now())
    await time.drive(asyncio.ensure_future(scheduler.idle()))

    assert report.started == (recent,)
    assert [b.id for b in report.missed] == [old]
    assert report.waiting == (later,)
    assert store.broadcast_status(recent) is BroadcastStatus.DONE
    assert store.broadcast_status(old) is BroadcastStatus.MISSED
    assert store.broadcast_status(later) is BroadcastStatus.SCHEDULED
    assert sorted(sender.delivered) == sorted(tgs(*range(1, 21)))
    missed_notice = next(n for n in notices.sent if "terlewat" in n.text)
    assert missed_notice.chat_ids == ADMINS and f"#{old}" in missed_notice.text
    again = scheduler.sync(time.now())  # nothing is reported or sent twice
    await time.drive(asyncio.ensure_future(scheduler.idle()))
    assert again.missed == () and again.started == ()
    assert set(sender.delivered.values()) == {1}


async def test_restart_resumes_an_interrupted_broadcast_and_skips_chats_already_sent(
        store: Store, time: FakeTime) -> None:
    subscribe_many(store, range(1, 11))
    bid = admin_broadcast(store, NOW - dt.timedelta(days=1))  # long ago: resume ignores grace
    store.claim_broadcast(bid, NOW - dt.timedelta(days=1))
    for chat in tgs(1, 2, 3):
        store.begin_delivery(bid, chat)
        store.finish_delivery(bid, chat, DeliveryStatus.SENT, NOW)
    store.begin_delivery(bid, tg(4))  # in flight when the process died
    sender = FakeSender(time)
    scheduler = make_scheduler(store, time, sender)
    report = scheduler.sync(time.now())
    await time.drive(asyncio.ensure_future(scheduler.idle()))
    assert report.resumed == (bid,)
    assert sorted(sender.delivered) == sorted(tgs(*range(4, 11)))
    assert store.broadcast_status(bid) is BroadcastStatus.DONE


async def test_a_fired_job_decides_again_on_the_stored_state(store: Store,
                                                              time: FakeTime) -> None:
    subscribe_many(store, [1, 2])
    notices = Notices()
    sender = FakeSender(time)
    on_time = admin_broadcast(store, NOW + dt.timedelta(minutes=30), notify_chat=900)
    too_late = admin_broadcast(store, NOW + dt.timedelta(minutes=40))
    cancelled = admin_broadcast(store, NOW + dt.timedelta(minutes=50))
    async with running(make_scheduler(store, time, sender, notices=notices)) as scheduler:
        store.cancel_broadcast(cancelled, time.now())
        jobs = {j.id: j for j in scheduler.jobs.get_jobs()}

        async def fire(broadcast_id: int) -> None:  # what APScheduler calls at run_date
            job = jobs[f"{JOB_PREFIX}{broadcast_id}"]
            await job.func(**job.kwargs)

        time.set_now(NOW + dt.timedelta(minutes=30, seconds=2))
        await fire(on_time)
        time.set_now(NOW + dt.timedelta(hours=3))  # e.g. the machine was suspended
        await fire(too_late)
        await fire(cancelled)
        await time.drive(asyncio.ensure_future(scheduler.idle()))

    assert store.broadcast_status(on_time) is BroadcastStatus.DONE
    assert store.broadcast_status(too_late) is BroadcastStatus.MISSED
    assert store.broadcast_status(cancelled) is BroadcastStatus.CANCELLED
    assert sender.delivered == {tg(1): 1, tg(2): 1}
    progress = [n for n in notices.sent if n.chat_ids == (tg(900),)]
    assert progress and "selesai" in progress[-1].text and "terkirim 2" in progress[-1].text
    assert any("terlewat" in n.text and f"#{too_late}" in n.text for n in notices.sent)


async def test_calendar_reminders_are_generated_registered_and_reported(
        store: Store, time: FakeTime) -> None:
    subscribe_many(store, [1, 2], "jabar")
    subscribe_many(store, [3], "papua")
    subscribe_many(store, [4], None)
    soon = NOW + dt.timedelta(minutes=5)
    calendar = [
        CalendarBroadcast("cal:x:r:0:Asia/Jakarta", soon, ("jabar", None), "Pengingat WIB"),
        CalendarBroadcast("cal:x:r:0:Asia/Jayapura", soon - dt.timedelta(hours=2), ("papua",),
                          "Pengingat WIT"),
    ]
    notices = Notices()
    sender = FakeSender(time)
    async with running(make_scheduler(store, time, sender, calendar=calendar,
                                      notices=notices)) as scheduler:
        assert store.broadcasts_in(BroadcastStatus.SCHEDULED)[0].key == calendar[0].key
        assert scheduler.job_ids() == [f"{JOB_PREFIX}1"]  # the WIT one was past: not stored
        assert scheduler.sync(time.now()).calendar.created == 0

        time.set_now(soon)
        job = scheduler.jobs.get_job(f"{JOB_PREFIX}1")
        await job.func(**job.kwargs)
        await time.drive(asyncio.ensure_future(scheduler.idle()))
    assert sorted(sender.delivered) == tgs(1, 2, 4)
    final = [n for n in notices.sent if "selesai" in n.text]
    assert len(final) == 1 and final[0].chat_ids == ADMINS


async def test_recurring_series_gets_one_job_each_and_cancel_drops_them_all(
        store: Store, time: FakeTime) -> None:
    first = dt.datetime(2031, 3, 3, 7, 0, tzinfo=WIB)  # a Monday
    times = occurrences(first, Recurrence(7, dt.date(2031, 3, 31)))
    assert [t.astimezone(WIB).day for t in times] == [3, 10, 17, 24, 31]
    series = store.create_broadcasts("Senin netral", times, None, tg(900), time.now())
    async with running(make_scheduler(store, time)) as scheduler:
        assert len(scheduler.job_ids()) == 5
        store.cancel_broadcast(series[2].id, time.now())
        scheduler.sync(time.now())
        assert scheduler.job_ids() == []  # every occurrence not yet sent is cancelled
    assert {x.status for x in store.series_broadcasts(series[0].id)} == {
        BroadcastStatus.CANCELLED}


def test_recurrence_is_bounded_and_moves_to_the_weekday() -> None:
    friday = dt.datetime(2031, 3, 7, 7, 0, tzinfo=WIB)
    mondays = occurrences(friday, Recurrence(7, dt.date(2031, 3, 31), weekday=0))
    assert [t.astimezone(WIB).strftime("%a %d %H:%M") for t in mondays] == [
        "Mon 10 07:00", "Mon 17 07:00", "Mon 24 07:00", "Mon 31 07:00"]
    endless = occurrences(friday, Recurrence(1, dt.date(2099, 1, 1)), limit=10)
    assert len(endless) == 11  # limit + 1: enough to refuse, never unbounded
    assert occurrences(friday, Recurrence(1, dt.date(2031, 3, 6))) == []
    with pytest.raises(ValueError):
        Recurrence(0, dt.date(2031, 1, 1))


async def test_start_and_shutdown_on_the_running_loop(store: Store, time: FakeTime) -> None:
    admin_broadcast(store, NOW + dt.timedelta(days=1))
    scheduler = make_scheduler(store, time)
    report = await scheduler.start()
    try:
        assert scheduler.jobs.running
        assert scheduler.jobs.get_job(SYNC_JOB) is not None
        assert len(report.waiting) == 1 and len(scheduler.job_ids()) == 1
    finally:
        await scheduler.shutdown()
    await asyncio.sleep(0)  # APScheduler shuts down on the loop
    assert not scheduler.jobs.running


async def test_shutdown_leaves_an_interrupted_broadcast_for_the_next_start(
        store: Store, time: FakeTime) -> None:
    subscribe_many(store, range(1, 101))
    bid = admin_broadcast(store, NOW)
    sender = FakeSender(time, latency=0.1)
    scheduler = make_scheduler(store, time, sender)
    scheduler.sync(time.now())
    await time.drive(asyncio.get_running_loop().create_future(),
                     until=lambda: len(sender.calls) >= 30)
    stopping = asyncio.ensure_future(scheduler.shutdown())
    await time.drive(stopping)
    assert store.broadcast_status(bid) is BroadcastStatus.SENDING
    assert 30 <= len(sender.delivered) < 100

    again = make_scheduler(store, time, sender)
    assert again.sync(time.now()).resumed == (bid,)
    await time.drive(asyncio.ensure_future(again.idle()))
    assert sorted(sender.delivered) == sorted(tgs(*range(1, 101)))
    assert set(sender.delivered.values()) == {1}


def test_build_scheduler_wires_the_settings(store: Store, kb: KnowledgeBase) -> None:
    settings = Settings(admin_ids=frozenset({5}), broadcast_rate=10.0,
                        broadcast_grace_minutes=15)
    pace = Pace(channel_limits(settings))
    scheduler = build_scheduler(settings, store, FakeSender(FakeTime()), pace, lambda: kb)
    assert scheduler.grace == dt.timedelta(minutes=15)
    assert scheduler.admin_ids == (tg(5),)
    assert scheduler.broadcaster.pace is pace
    assert pace.limits(Channel.TELEGRAM).rate == 10.0
    assert pace.limits(Channel.WHATSAPP).rate == 20.0
    assert any(p.key.startswith("cal:pilkada_2024:") for p in scheduler.calendar())


async def test_a_broadcast_queued_behind_another_is_sent_not_missed(store: Store,
                                                                   time: FakeTime) -> None:
    """One broadcast sends at a time; one that waits behind it far beyond the grace window is
    still sent when its turn comes (the grace window is for downtime, not for the queue)."""
    subscribe_many(store, range(1, 201))
    notices = Notices()
    # 200 chats at 1 message/s on one worker: the first broadcast takes ~200 s of virtual time.
    broadcaster = Broadcaster(store, FakeSender(time), pace_on(time, rate=1.0), now=time.now,
                              workers=1)
    scheduler = Scheduler(store, broadcaster, grace=dt.timedelta(seconds=60), admin_ids=ADMINS,
                          tz=WIB, calendar=lambda: [], notify=notices, now=time.now)
    first = admin_broadcast(store, NOW)
    second = admin_broadcast(store, NOW + dt.timedelta(seconds=1))
    time.set_now(NOW + dt.timedelta(seconds=2))
    async with running(scheduler):
        await time.drive(asyncio.ensure_future(scheduler.idle()))
    assert store.broadcast_status(first) is BroadcastStatus.DONE
    assert store.broadcast_status(second) is BroadcastStatus.DONE
    assert store.delivery_counts(second).sent == 200
    assert not any("terlewat" in n.text for n in notices.sent)


async def test_a_resumed_broadcast_tells_its_admin_once_that_up_to_w_may_repeat(
        store: Store, time: FakeTime) -> None:
    subscribe_many(store, range(1, 11))
    bid = admin_broadcast(store, NOW - dt.timedelta(hours=1), notify_chat=900)
    store.claim_broadcast(bid, NOW - dt.timedelta(hours=1))  # `sending` when the process died
    notices = Notices()
    sender = FakeSender(time)
    scheduler = make_scheduler(store, time, sender, notices=notices)
    scheduler.sync(time.now())
    scheduler.sync(time.now())  # a second sync while it runs: no second notice
    await time.drive(asyncio.ensure_future(scheduler.idle()))
    resumed = [n for n in notices.sent if "dilanjutkan" in n.text]
    assert [(n.chat_ids, n.text) for n in resumed] == [
        ((tg(900),), replies.BROADCAST_RESUMED.format(id=bid,
                                                      repeat=scheduler.broadcaster.workers))]
    assert store.broadcast_status(bid) is BroadcastStatus.DONE
