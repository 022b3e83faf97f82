"""Calendar reminders: planned per time zone from the real calendar, stored once, never late."""

from __future__ import annotations

import datetime as dt
import shutil
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.knowledge import KnowledgeBase, load_knowledge
from bot.models import BroadcastStatus, CalendarBroadcast, Origin
from bot.store import Store
from bot.timetable import calendar_broadcasts, zones
from tests.conftest import KNOWLEDGE_DIR

WIB, WITA, WIT = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Makassar"), ZoneInfo("Asia/Jayapura")
BEFORE_PILKADA_CAMPAIGN = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def planned(kb: KnowledgeBase) -> list[CalendarBroadcast]:
    return calendar_broadcasts(kb.calendar, kb.regions)


def by_key(planned: list[CalendarBroadcast]) -> dict[str, CalendarBroadcast]:
    return {p.key: p for p in planned}


def test_zones_group_every_region_by_time_zone(kb: KnowledgeBase) -> None:
    grouped = zones(kb.regions.values())
    assert {"Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"} <= set(grouped)
    assert sorted(r for ids in grouped.values() for r in ids) == sorted(kb.regions)
    assert "bali" in grouped["Asia/Makassar"] and "papua" in grouped["Asia/Jayapura"]


def test_keys_are_stable_and_unique(planned: list[CalendarBroadcast]) -> None:
    keys = [p.key for p in planned]
    assert len(keys) == len(set(keys))
    assert "cal:pilkada_2024:ikrar_h1:0:Asia/Jakarta" in keys
    assert all(k.startswith("cal:") for k in keys)


def test_reminders_go_out_at_local_time_in_each_zone(planned: list[CalendarBroadcast]) -> None:
    found = by_key(planned)
    for tz, zone in (("Asia/Jakarta", WIB), ("Asia/Makassar", WITA), ("Asia/Jayapura", WIT)):
        h1 = found[f"cal:pilkada_2024:ikrar_h1:0:{tz}"]
        assert h1.send_at.astimezone(zone) == dt.datetime(2024, 9, 24, 7, 0, tzinfo=zone)
        h7 = found[f"cal:pilkada_2024:ikrar_h7:0:{tz}"]
        assert h7.send_at.astimezone(zone).date() == dt.date(2024, 9, 18)
        vote = found[f"cal:pilkada_2024:hari_pemungutan:0:{tz}"]
        assert vote.send_at.astimezone(zone) == dt.datetime(2024, 11, 27, 6, 0, tzinfo=zone)
    assert "27 November 2024" not in found["cal:pilkada_2024:ikrar_h1:0:Asia/Jakarta"].text
    assert "25 September 2024" in found["cal:pilkada_2024:ikrar_h1:0:Asia/Jakarta"].text


def test_no_region_subscribers_get_national_reminders_on_jakarta_time_only(
        planned: list[CalendarBroadcast]) -> None:
    found = by_key(planned)
    assert None in found["cal:pemilu_2024:ikrar_h1:0:Asia/Jakarta"].regions
    assert None not in found["cal:pemilu_2024:ikrar_h1:0:Asia/Makassar"].regions
    regional = [p for p in planned if p.key.startswith("cal:psu_2025_april:")]
    assert regional
    assert all(None not in p.regions for p in regional)
    assert {r for p in regional for r in p.regions} == {
        "sulteng", "sumbar", "jabar", "kaltim", "gorontalo", "bengkulu"}


def test_repeating_rules_give_numbered_sends_within_the_stage(
        planned: list[CalendarBroadcast]) -> None:
    weekly = sorted((p for p in planned
                     if p.key.startswith("cal:pilkada_2024:kampanye_mingguan:")
                     and p.key.endswith("Asia/Jakarta")), key=lambda p: p.send_at)
    assert len(weekly) == 8  # 1 Oct (25 Sep + 6 days), weekly, to 19 Nov (stage ends 23 Nov)
    gaps = {(b.send_at - a.send_at).days for a, b in pairwise(weekly)}
    assert gaps == {7}
    assert weekly[-1].send_at.astimezone(WIB).date() <= dt.date(2024, 11, 23)


def test_generation_is_idempotent(store: Store, planned: list[CalendarBroadcast]) -> None:
    first = store.sync_calendar(planned, BEFORE_PILKADA_CAMPAIGN)
    rows = store.broadcasts_in(BroadcastStatus.SCHEDULED)
    second = store.sync_calendar(planned, BEFORE_PILKADA_CAMPAIGN)
    assert first.created == len(rows) > 0
    assert (second.created, second.updated, second.cancelled) == (0, 0, 0)
    assert store.broadcasts_in(BroadcastStatus.SCHEDULED) == rows
    assert {b.origin for b in rows} == {Origin.CALENDAR}


def test_past_stages_never_produce_a_send(store: Store, planned: list[CalendarBroadcast]) -> None:
    result = store.sync_calendar(planned, BEFORE_PILKADA_CAMPAIGN)
    rows = store.broadcasts_in(BroadcastStatus.SCHEDULED)
    assert all(b.send_at > BEFORE_PILKADA_CAMPAIGN for b in rows)
    assert not any(b.key and b.key.startswith("cal:pemilu_2024:") for b in rows)
    assert result.created == sum(1 for p in planned if p.send_at > BEFORE_PILKADA_CAMPAIGN)
    today = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)  # every stage in the file is over
    assert store.sync_calendar(planned, today).created == 0


def test_calendar_edits_update_or_cancel_only_still_scheduled_reminders(
        store: Store, planned: list[CalendarBroadcast]) -> None:
    now = BEFORE_PILKADA_CAMPAIGN
    store.sync_calendar(planned, now)
    found = by_key(planned)
    moved_key = "cal:pilkada_2024:ikrar_h1:0:Asia/Jakarta"
    dropped_key = "cal:pilkada_2024:ikrar_h7:0:Asia/Jakarta"
    started_key = "cal:pilkada_2024:ikrar_h7:0:Asia/Makassar"
    started = next(b for b in store.broadcasts_in(BroadcastStatus.SCHEDULED)
                   if b.key == started_key)
    assert store.claim_broadcast(started.id, now)

    moved = found[moved_key]
    edited = [p for p in planned if p.key not in (dropped_key, started_key, moved_key)]
    edited.append(CalendarBroadcast(moved.key, moved.send_at + dt.timedelta(days=1),
                                    moved.regions, moved.text + " (diperbarui)"))
    result = store.sync_calendar(edited, now)
    assert (result.created, result.updated, result.cancelled) == (0, 1, 1)
    rows = {b.key: b for b in store.broadcasts_in(*BroadcastStatus)}
    assert rows[moved_key].send_at == moved.send_at + dt.timedelta(days=1)
    assert rows[moved_key].text.endswith("(diperbarui)")
    assert rows[dropped_key].status is BroadcastStatus.CANCELLED
    assert rows[started_key].status is BroadcastStatus.SENDING  # never touched once started


def test_a_new_election_added_in_yaml_produces_its_reminders(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    calendar = knowledge / "calendar.yaml"
    calendar.write_text(calendar.read_text(encoding="utf-8") + (
        "  - id: pemilu_uji\n"
        "    name: Pemilu Uji\n"
        "    stages:\n"
        "      - {id: kampanye, name: Masa kampanye, start: 2028-10-01, end: 2028-11-01}\n"
        "      - {id: masa_tenang, name: Masa tenang, start: 2028-11-02, end: 2028-11-04}\n"
        "      - {id: pemungutan, name: Pemungutan suara, start: 2028-11-05, end: 2028-11-05}\n"
    ), encoding="utf-8")
    kb = load_knowledge(knowledge)
    planned = calendar_broadcasts(kb.calendar, kb.regions)
    store = Store(tmp_path / "new.sqlite3")
    try:
        result = store.sync_calendar(planned, dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
        keys = {b.key for b in store.broadcasts_in(BroadcastStatus.SCHEDULED)}
    finally:
        store.close()
    assert result.created == len(keys) > 0
    assert all(k and k.startswith("cal:pemilu_uji:") for k in keys)
    assert "cal:pemilu_uji:ikrar_h7:0:Asia/Jayapura" in keys
