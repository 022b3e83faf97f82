"""Calendar reminders as broadcasts: what `knowledge/calendar.yaml` asks to send, and to whom.

Each reminder rule of each election is planned once per time zone (WIB, WITA, WIT …) at the
rule's local time, for the regions of that zone the election concerns. Subscribers who chose no
region ("seluruh Indonesia") live on Jakarta time and receive the reminders of national
elections only. The result is keyed (`cal:<election>:<rule>:<n>:<tz>`), so
`Store.sync_calendar` stores each reminder once however often it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from bot.calendar import DEFAULT_TZ, Calendar
from bot.models import Audience, CalendarBroadcast, Region


def zones(regions: Iterable[Region]) -> dict[str, tuple[str, ...]]:
    """Group region ids by time zone, in file order."""
    grouped: dict[str, list[str]] = {}
    for region in regions:
        grouped.setdefault(region.tz, []).append(region.id)
    return {tz: tuple(ids) for tz, ids in grouped.items()}


def calendar_broadcasts(calendar: Calendar,
                        regions: Mapping[str, Region]) -> list[CalendarBroadcast]:
    """Every reminder send of the calendar, soonest first (past ones included)."""
    zone_map = zones(regions.values())
    planned: list[CalendarBroadcast] = []
    for election in calendar.elections:
        for item in replace(calendar, elections=(election,)).plan(zone_map):
            audience: Audience = item.regions
            if not election.regions and item.tz == DEFAULT_TZ:
                audience = (*audience, None)
            planned.append(CalendarBroadcast(key=item.key, send_at=item.send_at,
                                             regions=audience, text=item.text))
    return sorted(planned, key=lambda p: (p.send_at, p.key))
