"""The delivery engine and its tables: exactly once, paced, resumable — on virtual time."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import tempfile
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from bot import replies
from bot.broadcasts import (
    Broadcaster,
    DeliveryReport,
    Notice,
    Notifier,
    Outcome,
    Senders,
    SendResult,
)
from bot.models import BroadcastStatus, Channel, ChatRef, DeliveryCounts, DeliveryStatus
from bot.pace import FloodScope
from bot.store import Store, migrations
from tests.broadcast_fakes import (
    T0,
    FakeSender,
    FakeTime,
    pace_on,
    sending_rows,
    subscribe_many,
    tg,
    tgs,
)

HOUR = dt.timedelta(hours=1)


def make_broadcaster(store: Store, sender: FakeSender, time: FakeTime, rate: float = 25.0,
                     **options: object) -> Broadcaster:
    return Broadcaster(store, sender, pace_on(time, rate), now=time.now,
                       **options)  # type: ignore[arg-type]


def new_broadcast(store: Store, text: str = "Tetap netral!", regions: tuple | None = None,
                  at: dt.datetime = T0) -> int:
    return store.create_broadcast(text, at, regions, created_by=tg(1), now=at - HOUR).id


# -- tables -------------------------------------------------------------------------------------
def test_migration_upgrades_an_m001_only_file_without_losing_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = Database(path)
    migrations.apply(old, stop_before="m002_broadcasts")
    assert not old["broadcasts"].exists()
    old["chats"].insert({"chat_id": 7, "region": "jabar", "subscribed": 1, "blocked": 0,
                         "created_at": "2024-01-01T00:00:00+00:00",
                         "updated_at": "2024-01-01T00:00:00+00:00"})
    old["pledges"].insert({"chat_id": 7, "pledged_at": "2024-01-02T00:00:00+00:00"})
    old["misses"].insert({"text": "apa ini", "kind": "fallback",
                          "created_at": "2024-01-03T00:00:00+00:00"})
    old.close()

    store = Store(path)
    try:
        assert {"broadcasts", "deliveries", "audit"} <= set(store.db.table_names())
        chat = store.chat(tg(7))
        assert chat is not None
        assert (chat.region, chat.subscribed, chat.pledged_at) == (
            "jabar", True, "2024-01-02T00:00:00+00:00")
        assert [m["text"] for m in store.recent_misses()] == ["apa ini"]
        applied = [m.name for m in migrations.applied(store.db)]
        assert applied == ["m001_chats_pledges_feedback", "m002_broadcasts", "m003_chat_refs",
                           "m004_miss_askers", "m005_sending_time"]
        assert store.subscribers() == [tg(7)]
    finally:
        store.close()
    again = Store(path)  # re-opening applies nothing twice
    assert len(migrations.applied(again.db)) == 5
    again.close()


def test_migration_keys_every_old_telegram_row_by_channel_and_id(tmp_path: Path) -> None:
    """A file written by the old schema (integer chat ids): every row survives, as Telegram."""
    path = tmp_path / "v2.sqlite3"
    old = Database(path)
    migrations.apply(old, stop_before="m003_chat_refs")
    at = "2024-01-01T00:00:00+00:00"
    for chat_id, region, subscribed in ((7, "jabar", 1), (8, None, 0)):
        old["chats"].insert({"chat_id": chat_id, "region": region, "subscribed": subscribed,
                             "blocked": 0, "created_at": at, "updated_at": at})
    old["pledges"].insert({"chat_id": 7, "pledged_at": at})
    old["feedback"].insert({"chat_id": 7, "message_id": 41, "intent": "pose_jari", "useful": 0,
                            "created_at": at})
    old.execute("INSERT INTO broadcasts (id, text, send_at, status, origin, created_by, "
                "created_at, notify_chat) VALUES (1, 'Tetap netral', ?, 'sending', 'admin', 900, "
                "?, 900)", [at, at])
    old.execute("INSERT INTO deliveries (broadcast_id, chat_id, status, attempts) "
                "VALUES (1, 7, 'sending', 1), (1, 8, 'sent', 1)")
    old.execute("INSERT INTO audit (at, user_id, action, detail, allowed) "
                "VALUES (?, 900, 'siaran', 'ok', 1)", [at])
    old.conn.commit()
    old.close()

    store = Store(path)
    try:
        assert store.chat(tg(7)) is not None and store.chat(tg(7)).pledged_at == at
        assert store.chat(tg(8)) is not None and not store.chat(tg(8)).subscribed
        assert store.subscribers("jabar") == [tg(7)]
        assert store.db["feedback"].count == 1
        broadcast = store.broadcast(1)
        assert broadcast is not None
        assert (broadcast.created_by, broadcast.notify_chat) == (tg(900), tg(900))
        assert store.open_deliveries(1) == [tg(7)]  # the in-flight row resumes
        assert [r["chat"] for r in store.deliveries(1)] == [tg(7), tg(8)]
        assert [(e["channel"], e["user_id"]) for e in store.audit_log()] == [("telegram", "900")]
        store.delete_chat(tg(7))  # and the new keys work for the old rows
        assert store.chat(tg(7)) is None and store.db["pledges"].count == 0
    finally:
        store.close()


def test_status_columns_reject_unknown_values(store: Store) -> None:
    bid = new_broadcast(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("UPDATE broadcasts SET status = 'sent' WHERE id = ?", [bid])


def test_transitions_check_the_current_state(store: Store) -> None:
    subscribe_many(store, [1, 2])
    bid = new_broadcast(store)
    assert store.claim_broadcast(bid, T0)
    assert not store.claim_broadcast(bid, T0)                 # claimed once
    assert len(store.deliveries(bid)) == 2                   # materialised once
    assert not store.mark_missed(bid, T0)                    # only scheduled ones miss
    assert not store.send_now(bid, T0)                       # only scheduled ones move
    assert store.begin_delivery(bid, tg(1))
    assert store.finish_delivery(bid, tg(1), DeliveryStatus.SENT, T0)
    assert not store.finish_delivery(bid, tg(1), DeliveryStatus.FAILED, T0)  # sent stays sent
    assert not store.begin_delivery(bid, tg(1))                  # a sent row is never re-sent
    assert not store.finish_broadcast(bid, T0)               # chat 2 still pending
    assert store.begin_delivery(bid, tg(2))
    assert store.finish_delivery(bid, tg(2), DeliveryStatus.SENT, T0)
    assert store.finish_broadcast(bid, T0)
    assert not store.finish_broadcast(bid, T0)
    assert store.cancel_broadcast(bid, T0) == []              # done cannot be cancelled
    assert store.delivery_counts(bid) == DeliveryCounts(sent=2)


def test_audience_by_region_and_the_no_region_subscribers(store: Store) -> None:
    subscribe_many(store, [1, 2], "jabar")
    subscribe_many(store, [3], "papua")
    subscribe_many(store, [4], None)
    store.subscribe(tg(5), "jabar", T0)
    store.unsubscribe(tg(5), T0)
    store.subscribe(tg(6), "jabar", T0)
    store.set_blocked(tg(6), True, T0)
    assert store.audience(None) == tgs(1, 2, 3, 4)
    assert store.audience(("jabar",)) == tgs(1, 2)
    assert store.audience(("jabar", None)) == tgs(1, 2, 4)
    assert store.audience((None,)) == [tg(4)]
    assert store.audience(()) == []


def test_cancel_covers_the_rest_of_a_series(store: Store) -> None:
    times = [T0 + dt.timedelta(days=7 * n) for n in range(4)]
    series = store.create_broadcasts("Senin netral", times, None, tg(1), T0 - HOUR)
    assert {b.series for b in series} == {series[0].id}
    assert store.claim_broadcast(series[0].id, T0)
    store.finish_broadcast(series[0].id, T0)  # no subscribers: done at once
    cancelled = store.cancel_broadcast(series[1].id, T0)
    assert cancelled == [series[1].id, series[2].id, series[3].id]
    assert [b.status for b in store.series_broadcasts(series[0].id)] == [
        BroadcastStatus.DONE, *[BroadcastStatus.CANCELLED] * 3]
    assert store.cancel_broadcast(series[2].id, T0) == []


def test_deleting_a_chat_removes_its_deliveries(store: Store) -> None:
    subscribe_many(store, [1, 2])
    bid = new_broadcast(store)
    store.claim_broadcast(bid, T0)
    store.delete_chat(tg(1))
    assert [r["chat"] for r in store.deliveries(bid)] == [tg(2)]


def test_audit_log_keeps_refusals_and_actions(store: Store) -> None:
    store.record_audit(tg(5), "siaran", "x" * 900, False, T0)
    store.record_audit(tg(1), "siaran", "ok", True, T0)
    log = store.audit_log()
    assert [(e["channel"], e["user_id"], e["allowed"]) for e in log] == [
        ("telegram", "1", 1), ("telegram", "5", 0)]
    assert len(log[1]["detail"]) == 500


# -- delivery -----------------------------------------------------------------------------------
async def test_every_reachable_subscriber_gets_exactly_one_message(store: Store) -> None:
    time = FakeTime()
    chats = subscribe_many(store, range(1000, 1300))
    blocked = set(chats[::37])
    script = {
        chats[5]: [SendResult.retry(2)],                                   # int seconds
        chats[50]: [SendResult.retry(dt.timedelta(seconds=1.5))],          # PTB timedelta
        chats[70]: [SendResult.transient("502 Bad Gateway"), SendResult.transient("timed out")],
        chats[90]: [SendResult.transient("timed out")] * 9,                # gives up
        chats[110]: [SendResult.failed("Bad Request: message text is empty")],
    }
    sender = FakeSender(time, script=script, blocked=blocked, latency=0.05)
    bid = new_broadcast(store)
    report = await time.run(make_broadcaster(store, sender, time).deliver(bid))

    assert report is not None and report.finished
    reachable = set(chats) - blocked - {chats[90], chats[110]}
    assert set(sender.delivered) == reachable
    assert set(sender.delivered.values()) == {1}
    assert (report.sent, report.pending, report.failed, report.blocked) == (
        len(reachable), 0, 2, len(blocked))
    assert store.broadcast_status(bid) is BroadcastStatus.DONE
    assert all(store.chat(c).blocked for c in blocked)  # type: ignore[union-attr]
    assert store.subscribers() == sorted(set(chats) - blocked)
    rows = {r["chat"]: r for r in store.deliveries(bid)}
    assert rows[chats[70]]["attempts"] == 3 and rows[chats[70]]["status"] == "sent"
    assert rows[chats[90]]["status"] == "failed" and "timed out" in rows[chats[90]]["last_error"]
    # a blocked chat is tried once and never again
    assert Counter(c.chat for c in sender.calls)[next(iter(blocked))] == 1


@pytest.mark.parametrize("parts", [1, 2])
async def test_pacing_stays_under_the_rate_and_one_message_per_chat_per_second(
        store: Store, parts: int) -> None:
    time = FakeTime()
    rate = 25
    subscribe_many(store, range(1, 301))
    sender = FakeSender(time, latency=0.12)
    bid = new_broadcast(store, "\n\n".join(["netral"] * parts))
    broadcaster = make_broadcaster(store, sender, time, rate=rate,
                                   split=lambda text: text.split("\n\n"),
                                   frame=lambda text, _channel: text)
    report = await time.run(broadcaster.deliver(bid))

    assert report is not None and report.sent == 300
    starts = [c.at for c in sender.calls]
    assert len(starts) == 300 * parts
    # any rate + 1 consecutive messages span at least one second: never above the rate
    assert all(starts[i + rate] - starts[i] >= 1 - 1e-9 for i in range(len(starts) - rate))
    by_chat: dict[int, list[float]] = {}
    for call in sender.calls:
        by_chat.setdefault(call.chat, []).append(call.at)
    gaps = [b - a for times in by_chat.values() for a, b in pairwise(times)]
    assert len(gaps) == 300 * (parts - 1) and all(g >= 1 - 1e-9 for g in gaps)
    assert sender.max_in_flight <= broadcaster.workers
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])  # intervals per second
    assert achieved <= rate * (1 + 1e-9)
    if parts == 1:  # single messages (every admin text fits in one) keep the full pace
        assert achieved >= 0.95 * rate


async def test_a_channel_wide_retry_after_pauses_every_worker_but_not_the_event_loop(
        store: Store) -> None:
    time = FakeTime()
    chats = subscribe_many(store, range(1, 101))
    flood = SendResult.retry(dt.timedelta(seconds=3), scope=FloodScope.CHANNEL)
    sender = FakeSender(time, script={chats[20]: [flood]}, latency=0.05)
    bid = new_broadcast(store)
    ticks: list[float] = []

    async def interactive() -> None:  # e.g. answering questions during the broadcast
        while True:
            ticks.append(time.t)
            await time.sleep(0.25)

    other = asyncio.ensure_future(interactive())
    report = await time.run(make_broadcaster(store, sender, time).deliver(bid))
    other.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await other

    assert report is not None and report.sent == 100
    limited = next(c for c in sender.calls if c.outcome is Outcome.RETRY_AFTER)
    answered = limited.at + 0.05  # the 429 arrives after the latency; then 3 s of pause
    resume = answered + 3
    # calls already started before the 429 arrived may finish; none starts during the pause
    assert not [c.at for c in sender.calls if answered - 1e-9 <= c.at < resume - 1e-9]
    assert any(abs(c.at - resume) < 1e-6 for c in sender.calls)
    assert any(limited.at < t < resume for t in ticks)  # the loop kept answering meanwhile
    assert sender.delivered[chats[20]] == 1


async def test_a_retry_after_for_one_chat_pauses_that_chat_only(store: Store) -> None:
    """Telegram does not say which limit a 429 is: one chat's alone is that chat's."""
    time = FakeTime()
    chats = subscribe_many(store, range(1, 101))
    sender = FakeSender(time, script={chats[20]: [SendResult.retry(30)]}, latency=0.05)
    bid = new_broadcast(store)
    report = await time.run(make_broadcaster(store, sender, time).deliver(bid))

    assert report is not None and report.sent == 100
    limited = next(c for c in sender.calls if c.outcome is Outcome.RETRY_AFTER)
    retried = [c.at for c in sender.calls if c.chat == chats[20]][1]
    assert retried >= limited.at + 0.05 + 30 - 1e-9  # never sent into its flood wait
    others = [c.at for c in sender.calls if c.chat != chats[20]]
    assert len(others) == 99 and max(others) < limited.at + 5  # the others went on meanwhile


async def test_retry_afters_for_two_chats_within_one_wait_pause_the_channel(
        store: Store) -> None:
    time = FakeTime()
    chats = subscribe_many(store, range(1, 101))
    script = {chats[20]: [SendResult.retry(3)], chats[21]: [SendResult.retry(3)]}
    sender = FakeSender(time, script=script, latency=0.05)
    report = await time.run(make_broadcaster(store, sender, time, workers=1).deliver(
        new_broadcast(store)))
    assert report is not None and report.sent == 100
    second = [c for c in sender.calls if c.outcome is Outcome.RETRY_AFTER][1]
    after = [c.at for c in sender.calls if c.at > second.at]
    assert after[0] >= second.at + 0.05 + 3 - 1e-9  # the next chat waited too


async def test_transient_errors_back_off_exponentially_then_fail(store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, [1])
    sender = FakeSender(time, script={tg(1): [SendResult.transient("503")] * 10})
    bid = new_broadcast(store)
    broadcaster = make_broadcaster(store, sender, time, max_attempts=4, backoff=1.0)
    report = await time.run(broadcaster.deliver(bid))
    assert report is not None and report.failed == 1
    assert [c.at for c in sender.calls] == [0.0, 1.0, 3.0, 7.0]  # waits of 1, 2 and 4 s
    row = store.deliveries(bid)[0]
    assert (row["attempts"], row["last_error"]) == (4, "503")


async def test_a_sender_that_raises_is_retried_like_a_transient_error(store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, [1])
    sender = FakeSender(time)
    failures = iter([RuntimeError("boom")])

    def explode(_: int) -> None:
        error = next(failures, None)
        if error:
            raise error

    sender.on_call = explode
    report = await time.run(make_broadcaster(store, sender, time).deliver(new_broadcast(store)))
    assert report is not None and report.sent == 1 and sender.delivered[tg(1)] == 1


async def test_long_texts_are_split_and_count_as_several_messages(store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, [1, 2])
    sender = FakeSender(time)
    long_text = "\n\n".join(["kalimat " * 400] * 3)  # about 9,600 characters
    report = await time.run(make_broadcaster(store, sender, time).deliver(
        new_broadcast(store, long_text)))
    assert report is not None and report.sent == 2
    per_chat = Counter(c.chat for c in sender.calls)
    assert per_chat[tg(1)] == per_chat[tg(2)] >= 3
    assert all(len(c.text) <= 4096 for c in sender.calls)


async def test_progress_is_reported_every_few_seconds_and_at_the_end(store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, range(1, 101))
    reports: list[DeliveryReport] = []
    broadcaster = make_broadcaster(store, FakeSender(time, blocked={tg(3)}, latency=0.05),
                                   time, rate=10, progress_seconds=3.0)
    final = await time.run(broadcaster.deliver(new_broadcast(store), reports.append))
    progress = reports[:-1]
    assert len(progress) == 3  # 100 chats at 10/s: ~10 s, one report every 3 s
    assert [r.finished for r in reports] == [False] * 3 + [True]
    assert all(b.done > a.done for a, b in pairwise(reports))
    assert [round(r.elapsed.total_seconds()) for r in progress] == [3, 6, 9]
    assert all(r.eta is not None and r.eta.total_seconds() > 0 for r in progress)
    assert progress[0].eta.total_seconds() == pytest.approx(7, abs=0.5)  # type: ignore[union-attr]
    assert reports[-1] == final and final.eta is None
    assert (final.sent, final.blocked, final.pending, final.total) == (99, 1, 0, 100)
    assert final.status is BroadcastStatus.DONE
    assert final.elapsed.total_seconds() == pytest.approx(9.95, abs=0.1) and final.rate > 0


async def test_every_copy_says_who_sends_it_why_and_how_to_stop(store: Store) -> None:
    time = FakeTime()
    telegram = subscribe_many(store, [1])[0]
    whatsapp = ChatRef.whatsapp("6281234567890")
    store.subscribe(whatsapp, None, T0)
    sender = FakeSender(time)
    broadcaster = make_broadcaster(store, sender, time)
    report = await time.run(broadcaster.deliver(new_broadcast(store, "Besok masa tenang.")))
    assert report is not None and report.sent == 2
    texts = {c.chat: c.text for c in sender.calls}
    header = replies.broadcast_header("Tanya Netral")
    assert texts[telegram] == f"{header}\n\nBesok masa tenang.\n\n" \
        "Ketik /berhenti untuk berhenti berlangganan."
    assert texts[whatsapp].endswith("Ketik BERHENTI untuk berhenti berlangganan.")
    assert header == "📣 Tanya Netral · Pengingat netralitas ASN"
    assert replies.broadcast_body(texts[whatsapp]) == "Besok masa tenang."


async def test_the_longest_admin_text_still_makes_a_one_message_copy(store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, [1])
    room = replies.broadcast_room("Badan Kepegawaian dan Pengembangan SDM Provinsi")
    sender = FakeSender(time)
    broadcaster = make_broadcaster(
        store, sender, time,
        frame=lambda text, channel: replies.broadcast_copy(
            text, channel, "Badan Kepegawaian dan Pengembangan SDM Provinsi"))
    await time.run(broadcaster.deliver(new_broadcast(store, "x" * room)))
    assert len(sender.calls) == 1 and len(sender.calls[0].text) <= 4096


async def test_cancel_while_sending_stops_the_workers(store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, range(1, 201))
    bid = new_broadcast(store)
    sender = FakeSender(time, latency=0.1)
    sender.on_call = lambda _: (len(sender.calls) == 50 and store.cancel_broadcast(bid, T0))
    report = await time.run(make_broadcaster(store, sender, time).deliver(bid))
    assert report is not None and report.status is BroadcastStatus.CANCELLED
    assert 50 <= report.sent <= 50 + 8
    assert report.pending == 200 - report.sent


async def test_chats_that_leave_mid_broadcast_are_not_sent(store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, [1, 2, 3, 4])
    bid = new_broadcast(store)
    store.claim_broadcast(bid, T0)
    store.unsubscribe(tg(2), T0)
    store.set_blocked(tg(3), True, T0)
    store.delete_chat(tg(4))
    sender = FakeSender(time)
    report = await time.run(make_broadcaster(store, sender, time).deliver(bid))
    assert set(sender.delivered) == {tg(1)}
    assert report is not None and (report.sent, report.blocked, report.total) == (1, 1, 2)


async def test_nothing_is_sent_for_cancelled_missed_or_done_broadcasts(store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, [1])
    sender = FakeSender(time)
    broadcaster = make_broadcaster(store, sender, time)
    cancelled, missed = new_broadcast(store), new_broadcast(store)
    store.cancel_broadcast(cancelled, T0)
    store.mark_missed(missed, T0)
    assert await time.run(broadcaster.deliver(cancelled)) is None
    assert await time.run(broadcaster.deliver(missed)) is None
    assert await time.run(broadcaster.deliver(9999)) is None
    done = new_broadcast(store)
    await time.run(broadcaster.deliver(done))
    assert await time.run(broadcaster.deliver(done)) is None
    assert sender.delivered == Counter({tg(1): 1})


# -- crashes ------------------------------------------------------------------------------------
class Crash(Exception):
    """Marks the moment the process 'dies' in the crash tests."""


@pytest.mark.parametrize("workers", [1, 3, 8])
async def test_resume_after_a_crash_resends_at_most_the_in_flight_ones(
        tmp_path: Path, workers: int) -> None:
    """Worst case: every message in flight at the crash did reach the user."""
    path = tmp_path / "crash.sqlite3"
    store = Store(path)
    chats = subscribe_many(store, range(1, 201))
    bid = new_broadcast(store)
    time = FakeTime()
    frozen = asyncio.Event()
    delivered: Counter[ChatRef] = Counter()
    in_flight_at_crash: list[int] = []

    class CrashingSender(FakeSender):
        frozen_workers = 0

        async def send_text(self, chat_id: ChatRef, text: str) -> SendResult:
            in_flight_at_crash.append(sending_rows(path, bid))
            delivered[chat_id] += 1  # worst case: every message that starts does arrive …
            self.calls.append(None)  # type: ignore[arg-type]
            if len(self.calls) <= 120:
                await time.sleep(0.2)
            if len(self.calls) >= 120:  # … but the process died before recording it
                self.frozen_workers += 1
                await frozen.wait()
            return SendResult.sent()

    sender = CrashingSender(time)
    task = asyncio.ensure_future(
        make_broadcaster(store, sender, time, workers=workers).deliver(bid))
    await time.drive(task, until=lambda: sender.frozen_workers == workers)
    at_crash = sending_rows(path, bid)
    task.cancel()  # the process is gone: nothing after this point is written
    with contextlib.suppress(asyncio.CancelledError):
        await task
    store.close()

    assert max(in_flight_at_crash) <= workers  # the invariant: at most W rows in flight
    assert 0 < at_crash <= workers

    restarted = Store(path)
    time2 = FakeTime(time.now())
    resumed = FakeSender(time2)
    report = await time2.run(make_broadcaster(restarted, resumed, time2,
                                              workers=workers).deliver(bid))
    for chat_id, n in resumed.delivered.items():
        delivered[chat_id] += n
    restarted.close()

    assert report is not None and report.finished and report.sent == 200
    assert set(delivered) == set(chats)  # nobody is missing
    duplicates = sum(n - 1 for n in delivered.values())
    assert duplicates == at_crash <= workers  # exactly the in-flight ones, bounded by W


async def test_after_a_crash_the_report_counts_sending_time_not_the_downtime(
        tmp_path: Path) -> None:
    path = tmp_path / "time.sqlite3"
    store = Store(path)
    subscribe_many(store, range(1, 201))
    bid = new_broadcast(store)
    time = FakeTime()
    sender = FakeSender(time, latency=0.05)
    task = asyncio.ensure_future(make_broadcaster(store, sender, time, rate=10).deliver(bid))
    await time.drive(task, until=lambda: len(sender.calls) >= 120)  # 12 s of sending
    task.cancel()  # the process dies
    with contextlib.suppress(asyncio.CancelledError):
        await task
    store.close()

    restarted = Store(path)
    before = restarted.broadcast(bid).sending_seconds  # type: ignore[union-attr]
    assert before == pytest.approx(10, abs=0.2)  # stored at the last report (every 5 s)
    time2 = FakeTime(time.now() + dt.timedelta(hours=1))  # an hour of downtime
    report = await time2.run(make_broadcaster(restarted, FakeSender(time2, latency=0.05), time2,
                                              rate=10).deliver(bid))
    broadcast = restarted.broadcast(bid)
    restarted.close()
    assert report is not None and report.sent == 200
    assert report.elapsed.total_seconds() == pytest.approx(before + time2.t)
    assert report.elapsed < dt.timedelta(seconds=25)
    assert broadcast is not None and broadcast.sending_seconds == pytest.approx(before + time2.t)
    wall = broadcast.finished_at - broadcast.started_at  # type: ignore[operator]
    assert wall > dt.timedelta(hours=1)  # what the report no longer shows
    shown = replies.render_elapsed(report.elapsed)
    assert f"waktu kirim {shown}" in replies.render_report(broadcast, report)


async def test_a_crash_between_claim_and_first_send_loses_nobody(tmp_path: Path) -> None:
    path = tmp_path / "claim.sqlite3"
    store = Store(path)
    subscribe_many(store, range(1, 11))
    bid = new_broadcast(store)
    store.claim_broadcast(bid, T0)  # then the process dies
    store.close()
    restarted = Store(path)
    time = FakeTime()
    sender = FakeSender(time)
    report = await time.run(make_broadcaster(restarted, sender, time).deliver(bid))
    restarted.close()
    assert report is not None and report.sent == 10 and set(sender.delivered.values()) == {1}


async def test_stop_finishes_in_flight_messages_and_leaves_the_rest_for_resume(
        store: Store) -> None:
    time = FakeTime()
    subscribe_many(store, range(1, 51))
    bid = new_broadcast(store)
    sender = FakeSender(time, latency=0.1)
    broadcaster = make_broadcaster(store, sender, time)
    sender.on_call = lambda _: len(sender.calls) == 10 and broadcaster.stop()
    report = await time.run(broadcaster.deliver(bid))
    assert report is not None and not report.finished
    assert store.broadcast_status(bid) is BroadcastStatus.SENDING
    assert sending_rows(store.path, bid) == 0  # nothing ambiguous after a graceful stop
    again = make_broadcaster(store, FakeSender(time), time)
    final = await time.run(again.deliver(bid))
    assert final is not None and final.sent == 50


# -- notices ------------------------------------------------------------------------------------
class EditingSender(FakeSender):
    """A FakeSender whose channel edits messages in place (as Telegram does)."""

    def __init__(self, time: FakeTime) -> None:
        super().__init__(time)
        self.edits: list[tuple[float, ChatRef, str, str]] = []
        self.refuse_edits = False

    async def send_text(self, chat_id: ChatRef, text: str) -> SendResult:
        result = await super().send_text(chat_id, text)
        return SendResult.sent(str(len(self.calls))) if result.outcome is Outcome.SENT else result

    async def edit_text(self, chat: ChatRef, message_id: str, text: str) -> SendResult:
        if self.refuse_edits:
            return SendResult.failed("Bad Request: message to edit not found")
        self.edits.append((self.time.t, chat, message_id, text))
        return SendResult.sent(message_id)


async def test_notices_take_the_pace_and_an_unreachable_admin_is_skipped() -> None:
    time = FakeTime()
    sender = FakeSender(time, blocked={tg(3)})
    notify = Notifier(Senders({Channel.TELEGRAM: sender}), pace_on(time))

    async def scenario() -> None:
        await notify(Notice((tg(3), tg(1), tg(2)), "progres"))
        await notify(Notice((tg(1),), "selesai"))

    await time.run(scenario())
    sent = [(c.chat, c.text) for c in sender.calls if c.outcome is Outcome.SENT]
    assert sent == [(tg(1), "progres"), (tg(2), "progres"), (tg(1), "selesai")]
    at = [c.at for c in sender.calls if c.chat == tg(1)]
    assert at[1] - at[0] == pytest.approx(1.0)  # one message a second to a chat


async def test_progress_is_one_message_edited_in_place_then_the_final_report() -> None:
    time = FakeTime()
    sender = EditingSender(time)
    notify = Notifier(Senders({Channel.TELEGRAM: sender}), pace_on(time))
    admin = (tg(900),)

    async def scenario() -> None:
        for n in range(4):
            await notify(Notice(admin, f"{n * 25}%", progress_of=7))
            await time.sleep(5)
        await notify(Notice(admin, "selesai", progress_of=7, final=True))
        await notify(Notice(admin, "0%", progress_of=8))  # the next broadcast: a new message
        sender.refuse_edits = True  # e.g. the admin deleted it: a new one replaces it
        await notify(Notice(admin, "selesai", progress_of=8, final=True))

    await time.run(scenario())
    assert [c.text for c in sender.calls] == ["0%", "0%", "selesai"]
    assert [(mid, text) for _, _, mid, text in sender.edits] == [
        ("1", "25%"), ("1", "50%"), ("1", "75%"), ("1", "selesai")]


async def test_progress_where_messages_cannot_be_edited_is_sparse() -> None:
    time = FakeTime()
    sender = FakeSender(time)
    notify = Notifier(Senders({Channel.WHATSAPP: sender}), pace_on(time), sparse=300)
    admin = (ChatRef.whatsapp("6281234567890"),)

    async def scenario() -> None:
        for n in range(120):  # every 5 s for 10 minutes
            await notify(Notice(admin, f"progres {n}", progress_of=1))
            await time.sleep(5)
        await notify(Notice(admin, "selesai", progress_of=1, final=True))

    await time.run(scenario())
    assert [c.text for c in sender.calls] == ["progres 0", "progres 60", "selesai"]


def test_send_result_accepts_int_float_and_timedelta() -> None:
    assert SendResult.retry(3).retry_after == 3.0
    assert SendResult.retry(dt.timedelta(milliseconds=1500)).retry_after == 1.5
    assert SendResult.retry(-1).retry_after == 0.0


# -- property: whatever Telegram answers, nobody gets two copies and every row ends -------------
_OUTCOMES = st.sampled_from([
    SendResult.sent(), SendResult.blocked(), SendResult.retry(1), SendResult.transient("5xx"),
    SendResult.failed("400"),
])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts=st.dictionaries(st.integers(1, 30), st.lists(_OUTCOMES, max_size=4)),
       workers=st.integers(1, 6))
def test_property_each_chat_ends_in_one_final_state(scripts: dict[int, list[SendResult]],
                                                    workers: int) -> None:
    async def scenario(store: Store) -> tuple[DeliveryReport | None, FakeSender]:
        time = FakeTime()
        sender = FakeSender(time, script={tg(k): list(v) for k, v in scripts.items()},
                            latency=0.01)
        broadcaster = make_broadcaster(store, sender, time, workers=workers, max_attempts=3)
        return await time.run(broadcaster.deliver(new_broadcast(store))), sender

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "p.sqlite3")
        subscribe_many(store, range(1, 31))
        report, sender = asyncio.run(scenario(store))
        rows = store.deliveries(1)
        store.close()
    assert report is not None and report.finished and report.pending == 0
    assert all(n == 1 for n in sender.delivered.values())
    sent = {r["chat"] for r in rows if r["status"] == "sent"}
    assert sent == set(sender.delivered)
    assert report.sent + report.failed + report.blocked == 30


async def test_a_failing_worker_stops_the_others_and_the_resume_stays_within_the_bound(
        tmp_path: Path) -> None:
    """A store error in one worker (e.g. 'database is locked') must not leave the others
    sending: with them cancelled, resuming re-sends at most the W rows in flight."""
    store = Store(tmp_path / "fail.sqlite3")
    time = FakeTime()
    chats = subscribe_many(store, range(1, 41))
    sender = FakeSender(time, latency=0.05)
    bid = new_broadcast(store)
    real_finish = store.finish_delivery
    calls = 0

    def flaky_finish(*args: object, **kwargs: object) -> bool:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise sqlite3.OperationalError("database is locked")
        return real_finish(*args, **kwargs)  # type: ignore[arg-type]

    store.finish_delivery = flaky_finish  # type: ignore[method-assign]
    workers = 4
    with pytest.raises(ExceptionGroup):
        await time.run(make_broadcaster(store, sender, time, workers=workers).deliver(bid))
    store.finish_delivery = real_finish  # type: ignore[method-assign]
    assert sending_rows(store.path, bid) <= workers
    report = await time.run(make_broadcaster(store, sender, time, workers=workers).deliver(bid))
    assert report is not None and report.sent == len(chats)
    duplicates = sum(n - 1 for n in sender.delivered.values())
    assert set(sender.delivered) == set(chats)
    assert duplicates <= workers
    store.close()
