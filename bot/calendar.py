"""The election calendar (`knowledge/calendar.yaml`): stages, and reminders planned from them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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


def format_date(day: dt.date) -> str:
    """Format a date the Indonesian way: 27 November 2024."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
