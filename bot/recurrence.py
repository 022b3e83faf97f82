"""Recurring broadcasts: "every Monday 07:00 until …" turned into a bounded list of send times.

A recurring broadcast is stored as one row per occurrence sharing a `series` id (see
`Store.create_broadcasts`), so each occurrence is scheduled, delivered, resumed and reported like
any other broadcast, and cancelling one cancels the rest of the series.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
