"""When reminders go out: the election timetable, the reminders planned from it, and series.

* The election calendar (`knowledge/calendar.yaml`): elections, their stages (local dates) and
  reminder rules ("H-7 before the campaign, 07:00").
* Calendar reminders as broadcasts: each rule of each election is planned once per time zone
  (WIB, WITA, WIT …) at the rule's local time, for the regions of that zone the election
  concerns. Subscribers who chose no region ("seluruh Indonesia") live on Jakarta time and
  receive the reminders of national elections only. The result is keyed
  (`cal:<election>:<rule>:<n>:<tz>`), so `Store.sync_calendar` stores each reminder once however
  often it runs.
* Recurring admin broadcasts: "every Monday 07:00 until …" turned into a bounded list of send
  times. A series is stored as one row per occurrence sharing a `series` id (see
  `Store.create_broadcasts`), so each occurrence is scheduled, delivered, resumed and reported
  like any other broadcast, and cancelling one cancels the rest of the series.

(Formerly `bot/calendar.py`, `bot/reminders.py` and `bot/recurrence.py`; the first shadowed the
standard library's `calendar`.)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from bot.markup import escape
from bot.models import Audience, CalendarBroadcast, Region

DEFAULT_TZ = "Asia/Jakarta"


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of an election, as local calendar dates (inclusive)."""

    id: str
    name: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True, slots=True)
class Election:
    """An election with its stages; `regions` empty means national."""

    id: str
    name: str
    stages: tuple[Stage, ...]
    regions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def stage(self, stage_id: str) -> Stage | None:
        """Return the stage with this id, if the election has it."""
        return next((s for s in self.stages if s.id == stage_id), None)


@dataclass(frozen=True, slots=True)
class ReminderRule:
    """A reminder attached to a stage: `offset_days` from its start, at a local time."""

    id: str
    stage: str
    offset_days: int
    time: dt.time
    message: str
    every_days: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedReminder:
    """One reminder send derived from the calendar for one time zone."""

    key: str
    send_at: dt.datetime
    tz: str
    regions: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Calendar:
    """Elections, reminder rules and message templates."""

    elections: tuple[Election, ...] = ()
    rules: tuple[ReminderRule, ...] = ()
    messages: dict[str, str] | None = None

    def upcoming(self, today: dt.date) -> list[tuple[Election, Stage]]:
        """Stages not yet over on `today`, soonest first."""
        found = [(e, s) for e in self.elections for s in e.stages if s.end >= today]
        return sorted(found, key=lambda es: (es[1].start, es[0].id))

    def running(self, today: dt.date) -> list[tuple[Election, Stage]]:
        """Stages under way on `today`."""
        return [(e, s) for e in self.elections for s in e.stages if s.start <= today <= s.end]

    def in_progress(self, today: dt.date) -> list[Election]:
        """Elections between the start of their first recorded stage and the end of their last:
        reports of violations then go to Bawaslu."""
        return [e for e in self.elections
                if e.stages and min(s.start for s in e.stages) <= today
                <= max(s.end for s in e.stages)]

    def latest(self, today: dt.date, limit: int = 3) -> list[tuple[Election, Stage]]:
        """The most recent finished stages, newest first."""
        found = [(e, s) for e in self.elections for s in e.stages if s.end < today]
        return sorted(found, key=lambda es: es[1].end, reverse=True)[:limit]

    def plan(self, zones: dict[str, tuple[str, ...]]) -> list[PlannedReminder]:
        """Every reminder send of every election, one per time zone of its audience.

        Args:
            zones: time zone -> region ids in that zone (from regions.yaml).
        """
        planned: list[PlannedReminder] = []
        templates = self.messages or {}
        for election in self.elections:
            for rule in self.rules:
                stage = election.stage(rule.stage)
                if stage is None:
                    continue
                for n, day in enumerate(_rule_days(rule, stage)):
                    text = templates[rule.message].format(
                        election=election.name, stage_start=format_date(stage.start),
                        stage_end=format_date(stage.end))
                    for tz, regions in sorted(zones.items()):
                        audience = tuple(r for r in regions
                                         if not election.regions or r in election.regions)
                        if not audience:
                            continue
                        local = dt.datetime.combine(day, rule.time, tzinfo=ZoneInfo(tz))
                        planned.append(PlannedReminder(
                            key=f"cal:{election.id}:{rule.id}:{n}:{tz}",
                            send_at=local.astimezone(dt.UTC), tz=tz, regions=audience, text=text))
        return sorted(planned, key=lambda p: (p.send_at, p.key))


def _rule_days(rule: ReminderRule, stage: Stage) -> list[dt.date]:
    first = stage.start + dt.timedelta(days=rule.offset_days)
    if not rule.every_days:
        return [first]
    days, day = [], first
    while day <= stage.end:
        days.append(day)
        day += dt.timedelta(days=rule.every_days)
    return days


_MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
           "September", "Oktober", "November", "Desember")


# Sentences about "now" that intent answers may name as {placeholders}; filled on the day of
# the reply by `bot.dialogue.calendar_sentences`.
PLACEHOLDERS = ("tahapan_sekarang", "tahapan_berikutnya", "jalur_lapor")
PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")


def format_date(day: dt.date) -> str:
    """Format a date the Indonesian way: 27 November 2024."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


# -- calendar reminders as broadcasts ----------------------------------------------------------
def zones(regions: Iterable[Region]) -> dict[str, tuple[str, ...]]:
    """Group region ids by time zone, in file order."""
    grouped: dict[str, list[str]] = {}
    for region in regions:
        grouped.setdefault(region.tz, []).append(region.id)
    return {tz: tuple(ids) for tz, ids in grouped.items()}


def calendar_broadcasts(calendar: Calendar,
                        regions: Mapping[str, Region]) -> list[CalendarBroadcast]:
    """Every reminder send of the calendar, soonest first (past ones included); their texts
    are markup, as every broadcast's (the calendar's own text escaped)."""
    zone_map = zones(regions.values())
    planned: list[CalendarBroadcast] = []
    for election in calendar.elections:
        for item in replace(calendar, elections=(election,)).plan(zone_map):
            audience: Audience = item.regions
            if not election.regions and item.tz == DEFAULT_TZ:
                audience = (*audience, None)
            planned.append(CalendarBroadcast(key=item.key, send_at=item.send_at,
                                             regions=audience, text=escape(item.text)))
    return sorted(planned, key=lambda p: (p.send_at, p.key))


# -- recurring admin broadcasts ---------------------------------------------------------------
MAX_OCCURRENCES = 60

WEEKDAYS = {"senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "sabtu": 5, "minggu": 6}


@dataclass(frozen=True, slots=True)
class Recurrence:
    """Repeat every `every_days` days until the local date `until` (inclusive).

    `weekday` (0 = Monday) moves the first occurrence forward to that day of the week.
    """

    every_days: int
    until: dt.date
    weekday: int | None = None

    def __post_init__(self) -> None:
        if self.every_days < 1:
            raise ValueError("every_days must be at least 1")
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0..6")


def occurrences(first: dt.datetime, rule: Recurrence,
                limit: int = MAX_OCCURRENCES) -> list[dt.datetime]:
    """Return the send times (UTC) of a recurring broadcast, at most `limit` + 1 of them.

    Args:
        first: The first local send time (aware, in the zone the admin meant); later
            occurrences keep its local wall-clock time.
        rule: How often and until when.
        limit: The caller refuses a series longer than this; one extra item is returned so it
            can tell "exactly `limit`" from "too many" without generating an unbounded list.
    """
    if first.tzinfo is None:
        raise ValueError("naive datetime: pass an aware local datetime")
    day = first.date()
    if rule.weekday is not None:
        day += dt.timedelta(days=(rule.weekday - day.weekday()) % 7)
    times: list[dt.datetime] = []
    while day <= rule.until and len(times) <= limit:
        local = dt.datetime.combine(day, first.timetz().replace(tzinfo=None), tzinfo=first.tzinfo)
        times.append(local.astimezone(dt.UTC))
        day += dt.timedelta(days=rule.every_days)
    return times
