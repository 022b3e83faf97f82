"""Admin use cases, channel-independent: schedule, list, cancel, send now, progress, statistics.

Every method takes the acting user (a `ChatRef`: admins act in their private chat, whose id is
theirs) and `now`, checks the allow-lists (`Settings.is_admin`: Telegram ids and WhatsApp
numbers), writes an audit row (refused attempts too) and returns a `Reply` (Indonesian text and
optional buttons) for the channel to show. `Admin.handle` routes a command by name, so a channel
only passes the command's name and argument text through; input parsing and validation live
here.

`/siaran` syntax (first line, then the text on the following lines or after `|`):
`<date> <time> [WIB|WITA|WIT] [wilayah=<id>,<id>|semua] [ulang=<day>|harian|mingguan|<n>hari]
[sampai=<date>] [tahap=<election>/<stage>]`; `sekarang` instead of date and time sends at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot import markup, replies
from bot.broadcasts import report_for
from bot.config import Settings
from bot.knowledge import KnowledgeBase, KnowledgeError
from bot.learning import LearnError, attach
from bot.models import (
    Action,
    ActionKind,
    Audience,
    Broadcast,
    BroadcastStatus,
    ChatRef,
    Choice,
    Region,
    Reply,
)
from bot.store import Store
from bot.timetable import MAX_OCCURRENCES, WEEKDAYS, Calendar, Recurrence, occurrences

logger = logging.getLogger(__name__)

# Command names (without the slash) the channel registers; each is routed to one method.
CMD_HELP = "admin"
CMD_SCHEDULE = "siaran"
CMD_UPCOMING = "siaranmendatang"
CMD_CANCEL = "batalsiaran"
CMD_SEND_NOW = "kirimsekarang"
CMD_PROGRESS = "progres"
CMD_STATS = "statistik"
CMD_UNANSWERED = "takterjawab"
CMD_RELOAD = "muatulang"
CMD_LEARN = "ajarkan"
ADMIN_COMMANDS = (CMD_HELP, CMD_SCHEDULE, CMD_UPCOMING, CMD_CANCEL, CMD_SEND_NOW, CMD_PROGRESS,
                  CMD_STATS, CMD_UNANSWERED, CMD_LEARN, CMD_RELOAD)
LEARN_OUT_OF_SCOPE = ("luar", "luar_topik")  # /ajarkan <n> luar: attach to the redirect
LEARN_IGNORE = "abaikan"

DRAFT_TTL = dt.timedelta(hours=1)
MAX_LISTED = 20
MAX_PROBLEMS_SHOWN = 15
ZONE_SUFFIXES = {"wib": "Asia/Jakarta", "wita": "Asia/Makassar", "wit": "Asia/Jayapura"}
ALL_REGIONS_WORDS = ("semua", "all", "nasional")
NO_REGION_WORDS = ("indonesia",)  # in wilayah=: also the subscribers of "Seluruh Indonesia"
NOW_WORDS = ("sekarang", "now")

_MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "pebruari": 2, "maret": 3, "mar": 3,
    "april": 4, "apr": 4, "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "agustus": 8,
    "agu": 8, "agt": 8, "ags": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10,
    "november": 11, "nov": 11, "nop": 11, "desember": 12, "des": 12,
}
_DATE_PATTERNS = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(r"(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})"),
    re.compile(r"(?P<d>\d{1,2})\s+(?P<mon>[a-z]+)\s+(?P<y>\d{4})"),
)
_TIME = r"(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2}))?"
_SEP = r"(?:\s*t\s*|\s+(?:pukul\s+|jam\s+)?)"
_ZONE = r"(?:\s+(?P<tz>wib|wita|wit))?"
_DATETIME_PATTERNS = tuple(re.compile(f"^{p.pattern}{_SEP}{_TIME}{_ZONE}$")
                           for p in _DATE_PATTERNS)
# "+5m", "+2j", "+30d": minutes (menit), hours (jam), seconds (detik) from now.
_RELATIVE = re.compile(r"^\+\s*(?P<n>\d{1,5})\s*(?P<unit>detik|d|menit|mnt|m|jam|j)$")
_RELATIVE_UNITS = {"d": "seconds", "detik": "seconds", "m": "minutes", "mnt": "minutes",
                   "menit": "minutes", "j": "hours", "jam": "hours"}
_REPEAT_DAYS = re.compile(r"^(?:tiap|setiap)?(?P<n>\d{1,3})(?:hari|h)?$")


class InputError(ValueError):
    """Bad admin input; the message says, in Indonesian, what to fix."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A validated broadcast waiting for the admin's confirmation."""

    token: int
    text: str
    send_ats: tuple[dt.datetime, ...]  # UTC; empty = send as soon as confirmed
    regions: Audience | None
    notify_chat: ChatRef
    created: dt.datetime
    broadcast_id: int | None = None  # /kirimsekarang: an existing broadcast to send at once


# -- parsing ------------------------------------------------------------------------------------
def parse_local_datetime(value: str, default_tz: dt.tzinfo) -> dt.datetime:
    """Parse an admin's local date-time ("2026-12-01 07:00", "1/12/2026 07.00 WITA" …).

    Returns:
        An aware datetime in the zone of the WIB/WITA/WIT suffix, else in `default_tz`.

    Raises:
        InputError: unreadable, or not a real date or time.
    """
    text = " ".join(value.lower().replace(",", " ").split())
    for pattern in _DATETIME_PATTERNS:
        match = pattern.match(text)
        if match:
            break
    else:
        raise InputError(replies.ADMIN_BAD_DATE.format(value=value.strip()))
    tz = ZoneInfo(ZONE_SUFFIXES[match["tz"]]) if match["tz"] else default_tz
    day = _date_from(match, value)
    try:
        clock = dt.time(int(match["H"]), int(match["M"]), int(match["S"] or 0))
    except ValueError:
        raise InputError(replies.ADMIN_BAD_DATE.format(value=value.strip())) from None
    return dt.datetime.combine(day, clock, tzinfo=tz)


def parse_when(value: str, default_tz: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """Parse a send time: a local date-time (see `parse_local_datetime`) or "+5m" from `now`.

    Raises:
        InputError: unreadable, or not a real date or time.
    """
    match = _RELATIVE.match(" ".join(value.lower().split()))
    if match is None:
        return parse_local_datetime(value, default_tz)
    delta = dt.timedelta(**{_RELATIVE_UNITS[match["unit"]]: int(match["n"])})
    return now.astimezone(default_tz) + delta


def parse_local_date(value: str) -> dt.date:
    """Parse a date alone ("2026-12-31", "31/12/2026", "31 Desember 2026")."""
    text = " ".join(value.lower().split())
    for pattern in _DATE_PATTERNS:
        match = re.fullmatch(pattern, text)
        if match:
            return _date_from(match, value)
    raise InputError(replies.ADMIN_BAD_DATE.format(value=value.strip()))


def _date_from(match: re.Match[str], original: str) -> dt.date:
    groups = match.groupdict()
    month = _MONTHS.get(groups["mon"]) if groups.get("mon") else int(groups["m"])
    if month is None:
        raise InputError(replies.ADMIN_BAD_DATE.format(value=original.strip()))
    try:
        return dt.date(int(groups["y"]), month, int(groups["d"]))
    except ValueError:
        raise InputError(replies.ADMIN_NO_SUCH_DATE.format(value=original.strip())) from None


def parse_regions(value: str, known: Mapping[str, Region]) -> Audience | None:
    """Parse `wilayah=`: comma-separated region ids, or "semua" (None = every subscriber)."""
    ids = [part.strip().lower() for part in value.split(",") if part.strip()]
    if not ids or any(i in ALL_REGIONS_WORDS for i in ids):
        return None
    unknown = [i for i in ids if i not in known and i not in NO_REGION_WORDS]
    if unknown:
        raise InputError(replies.ADMIN_UNKNOWN_REGION.format(
            unknown=", ".join(unknown), choices=", ".join(known)))
    return tuple(dict.fromkeys(None if i in NO_REGION_WORDS else i for i in ids))


def parse_repeat(value: str) -> tuple[int, int | None]:
    """Parse `ulang=`: a weekday name, harian, mingguan or <n>hari → (every_days, weekday)."""
    word = value.strip().lower()
    if word in WEEKDAYS:
        return 7, WEEKDAYS[word]
    if word in ("harian", "setiaphari", "tiaphari"):
        return 1, None
    if word in ("mingguan", "seminggu", "pekanan"):
        return 7, None
    match = _REPEAT_DAYS.match(word)
    if match and int(match["n"]) >= 1:
        return int(match["n"]), None
    raise InputError(replies.ADMIN_BAD_REPEAT.format(value=value))


def split_command(args: str) -> tuple[str, str]:
    """Split `/siaran` arguments into the header (time and options) and the broadcast text."""
    first_line, newline, rest = args.partition("\n")
    if "|" in first_line:
        header, _, text = first_line.partition("|")
        return header.strip(), f"{text}{newline}{rest}".strip()
    return first_line.strip(), rest.strip()


# -- use cases ----------------------------------------------------------------------------------
class Admin:
    """The admin use cases (see the module docstring).

    Args:
        store: Broadcasts, audit and statistics.
        settings: `admin_ids` (the allow-list) and `timezone` (default for typed times).
        knowledge: Returns the current knowledge base (regions, calendar).
        on_change: Called with `now` after broadcasts or the knowledge base changed; pass
            `Scheduler.sync` so new broadcasts get their job (and "now" ones start).
        reload: Loads and installs the knowledge base (raises `KnowledgeError`), for
            /muatulang through `handle`.
        suggest: The intents a logged question most likely meant, best first (/takterjawab).
    """

    def __init__(self, store: Store, settings: Settings,
                 knowledge: Callable[[], KnowledgeBase],
                 on_change: Callable[[dt.datetime], object] | None = None,
                 reload: Callable[[], KnowledgeBase] | None = None,
                 suggest: Callable[[str], list[str]] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.knowledge = knowledge
        self.on_change = on_change
        self.reload = reload
        self.suggest = suggest
        self._drafts: dict[ChatRef, Draft] = {}
        self._tokens = 0

    @property
    def tz(self) -> dt.tzinfo:
        """The zone admins' times default to and are shown in."""
        return self.settings.timezone

    def is_admin(self, user: ChatRef) -> bool:
        """Whether the user is on an allow-list."""
        return self.settings.is_admin(user)

    def _guard(self, user: ChatRef, action: str, detail: str, now: dt.datetime) -> bool:
        allowed = self.is_admin(user)
        # A refused attempt is logged without what was typed: a non-admin's text is not ours
        # to keep (and /hapusdata removes the attempt itself).
        self.store.record_audit(user, action, detail if allowed else "", allowed, now)
        if not allowed:
            logger.warning("refused admin action %s by %s", action, user.channel)
        return allowed

    def handle(self, command: str, args: str, user: ChatRef, now: dt.datetime) -> Reply:
        """Route one admin command (a name of `ADMIN_COMMANDS`) to its use case.

        The reply and any progress reports go to the user's own (private) chat.
        """
        routes: dict[str, Callable[[], Reply]] = {
            CMD_SCHEDULE: lambda: self.draft_broadcast(user, user, args, now),
            CMD_UPCOMING: lambda: self.list_upcoming(user, now),
            CMD_CANCEL: lambda: self.cancel(user, args, now),
            CMD_SEND_NOW: lambda: self.send_now(user, user, args, now),
            CMD_PROGRESS: lambda: self.progress(user, args, now),
            CMD_STATS: lambda: self.statistics(user, now),
            CMD_UNANSWERED: lambda: self.unanswered(user, now),
            CMD_LEARN: lambda: self.learn(user, args, now),
        }
        if command == CMD_RELOAD and self.reload is not None:
            return self.reload_knowledge(user, now, self.reload)
        return routes.get(command, lambda: self.help(user, now))()

    def _changed(self, now: dt.datetime) -> None:
        if self.on_change is not None:
            self.on_change(now)

    def help(self, user: ChatRef, now: dt.datetime) -> Reply:
        """List the admin commands."""
        if not self._guard(user, CMD_HELP, "", now):
            return Reply.notice(replies.ADMIN_REFUSED)
        return Reply.notice(self.help_text(now))

    def help_text(self, now: dt.datetime) -> str:
        """The admin help, its example dated tomorrow and every region id listed."""
        regions = self.knowledge().regions
        tomorrow = now.astimezone(self.tz).date() + dt.timedelta(days=1)
        return replies.ADMIN_HELP.format(
            tz=self._zone_name(now), example_date=tomorrow.isoformat(),
            example_region=next(iter(regions), "jabar"), regions=", ".join(regions) or "-")

    # -- scheduling -------------------------------------------------------------------------
    def draft_broadcast(self, user: ChatRef, chat: ChatRef, args: str,
                        now: dt.datetime) -> Reply:
        """Validate `/siaran` input and show a preview with confirm / cancel buttons."""
        if not self._guard(user, CMD_SCHEDULE, args, now):
            return Reply.notice(replies.ADMIN_REFUSED)
        try:
            draft = self._parse_draft(args, chat, now)
        except InputError as exc:
            return Reply.notice(str(exc))
        self._drafts[user] = draft
        known = self.knowledge().regions
        audience = replies.render_audience(draft.regions, known)
        subscribers = len(self.store.audience(draft.regions))
        repeat = None
        if len(draft.send_ats) > 1:
            repeat = (self._show(draft.send_ats[0]), self._show(draft.send_ats[-1]),
                      len(draft.send_ats))
        when = self._show(draft.send_ats[0]) if draft.send_ats else None
        text = replies.render_preview(draft.text, when, repeat, audience, subscribers,
                                      self._all_note(draft.regions))
        token = str(draft.token)
        confirm = (replies.ADMIN_CONFIRM_BUTTON if draft.send_ats
                   else replies.ADMIN_CONFIRM_NOW_BUTTON)
        return Reply.notice(
            text, Choice(confirm, Action(ActionKind.ADMIN_CONFIRM, token)),
            Choice(replies.ADMIN_DISCARD_BUTTON, Action(ActionKind.ADMIN_DISCARD, token)))

    def _all_note(self, regions: Audience | None) -> str | None:
        """For a regional audience: whether "Seluruh Indonesia" subscribers get it too."""
        if regions is None:
            return None
        if None in regions:
            return replies.ADMIN_PREVIEW_WITH_ALL
        left_out = len(self.store.audience((None,)))
        example = next((r for r in regions if r is not None), "jabar")
        return replies.ADMIN_PREVIEW_WITHOUT_ALL.format(count=replies.format_number(left_out),
                                                        example=example)

    def press(self, user: ChatRef, action: Action, now: dt.datetime) -> Reply:
        """Handle an admin button: a preview's ADMIN_CONFIRM or ADMIN_DISCARD (with the draft's
        token), or a logged question's ADMIN_MISS (its choices) and ADMIN_LEARN (/ajarkan)."""
        if not self._guard(user, "button", action.legacy(), now):
            return Reply.notice(replies.ADMIN_REFUSED)
        if action.kind is ActionKind.ADMIN_MISS:
            return self._miss_choices(action.arg)
        if action.kind is ActionKind.ADMIN_LEARN:
            number, _, target = action.arg.partition(":")
            return self._learn(number, target, now)
        draft = self._drafts.get(user)
        if (action.kind not in (ActionKind.ADMIN_CONFIRM, ActionKind.ADMIN_DISCARD)
                or draft is None or str(draft.token) != action.arg
                or now - draft.created > DRAFT_TTL):
            return Reply.notice(replies.ADMIN_DRAFT_EXPIRED)
        del self._drafts[user]
        if action.kind is ActionKind.ADMIN_DISCARD:
            return Reply.notice(replies.ADMIN_DRAFT_DISCARDED)
        if draft.broadcast_id is not None:
            return self._send_now(draft, now)
        return self._create(user, draft, now)

    def _create(self, user: ChatRef, draft: Draft, now: dt.datetime) -> Reply:
        if draft.send_ats and draft.send_ats[0] <= now:
            return Reply.notice(replies.ADMIN_PAST.format(when=self._show(draft.send_ats[0]),
                                                        now=self._show(now)))
        created = self.store.create_broadcasts(draft.text, draft.send_ats or (now,),
                                               draft.regions, user, now, draft.notify_chat)
        self.store.record_audit(user, "created",
                                "broadcasts " + ",".join(str(b.id) for b in created), True, now)
        self._changed(now)
        first = created[0]
        audience = replies.render_audience(draft.regions, self.knowledge().regions)
        if not draft.send_ats:
            return Reply.notice(replies.ADMIN_STARTED.format(id=first.id))
        if len(created) == 1:
            return Reply.notice(replies.ADMIN_SCHEDULED.format(
                id=first.id, when=self._show(first.send_at), audience=audience))
        return Reply.notice(replies.ADMIN_SCHEDULED_SERIES.format(
            id=first.id, count=len(created), first=self._show(first.send_at),
            last=self._show(created[-1].send_at), audience=audience))

    def _parse_draft(self, args: str, chat: ChatRef, now: dt.datetime) -> Draft:
        header, text = split_command(args)
        options: dict[str, str] = {}
        words: list[str] = []
        for token in header.split():
            key, sep, value = token.partition("=")
            if sep:
                options[key.lower()] = value
            else:
                words.append(token)
        unknown = set(options) - {"wilayah", "ulang", "sampai", "tahap"}
        if unknown:
            raise InputError(replies.ADMIN_UNKNOWN_OPTION.format(option=sorted(unknown)[0]))
        when_text = " ".join(words)
        immediate = when_text.lower() in NOW_WORDS
        first = None if immediate else parse_when(when_text, self.tz, now)
        regions = parse_regions(options["wilayah"], self.knowledge().regions) \
            if "wilayah" in options else None
        if not text:
            raise InputError(replies.ADMIN_EMPTY_TEXT)
        text = markup.normalize(text)  # the small HTML subset; a bare & or < is just text
        problem = markup.problem(text)
        if problem is not None:
            raise InputError(replies.ADMIN_MARKUP_PROBLEMS[problem.kind].format(tag=problem.tag))
        room = replies.broadcast_room(self.settings.broadcast_sender)  # header, stop line
        if len(text) > room:
            raise InputError(replies.ADMIN_TOO_LONG.format(
                length=replies.format_number(len(text)), limit=replies.format_number(room),
                excess=replies.format_number(len(text) - room)))
        if first is None:
            send_ats: tuple[dt.datetime, ...] = ()
        elif "ulang" in options or "tahap" in options:
            send_ats = self._series(first, options, now)
        else:
            send_ats = (first.astimezone(dt.UTC),)
        if send_ats and send_ats[0] <= now:
            raise InputError(replies.ADMIN_PAST.format(when=self._show(send_ats[0]),
                                                       now=self._show(now)))
        self._tokens += 1
        return Draft(self._tokens, text, send_ats, regions, chat, now)

    def _series(self, first: dt.datetime, options: Mapping[str, str],
                now: dt.datetime) -> tuple[dt.datetime, ...]:
        every_days, weekday = parse_repeat(options.get("ulang", "harian"))
        until = parse_local_date(options["sampai"]) if "sampai" in options else None
        if "tahap" in options:
            stage_start, stage_end = self._stage(options["tahap"], self.knowledge().calendar)
            if stage_end < now.astimezone(first.tzinfo).date():
                raise InputError(replies.ADMIN_STAGE_OVER.format(
                    value=options["tahap"], end=replies.format_date(stage_end)))
            if first.date() < stage_start:
                first = dt.datetime.combine(stage_start, first.timetz())
            until = min(until, stage_end) if until else stage_end
        if until is None:
            raise InputError(replies.ADMIN_REPEAT_NEEDS_END)
        if until < first.date():
            raise InputError(replies.ADMIN_END_BEFORE_START.format(
                until=replies.format_date(until), first=replies.format_date(first.date())))
        times = occurrences(first, Recurrence(every_days, until, weekday))
        if len(times) > MAX_OCCURRENCES:
            raise InputError(replies.ADMIN_TOO_MANY.format(limit=MAX_OCCURRENCES))
        if not times:
            raise InputError(replies.ADMIN_END_BEFORE_START.format(
                until=replies.format_date(until), first=replies.format_date(first.date())))
        return tuple(times)

    @staticmethod
    def _stage(value: str, calendar: Calendar) -> tuple[dt.date, dt.date]:
        election_id, _, stage_id = value.replace(":", "/").partition("/")
        election = next((e for e in calendar.elections if e.id == election_id), None)
        stage = election.stage(stage_id) if election else None
        if stage is None:
            raise InputError(replies.ADMIN_UNKNOWN_STAGE.format(value=value))
        return stage.start, stage.end

    # -- managing ---------------------------------------------------------------------------
    def list_upcoming(self, user: ChatRef, now: dt.datetime) -> Reply:
        """List scheduled broadcasts, soonest first."""
        if not self._guard(user, CMD_UPCOMING, "", now):
            return Reply.notice(replies.ADMIN_REFUSED)
        upcoming = self.store.upcoming_broadcasts(MAX_LISTED)
        if not upcoming:
            return Reply.notice(replies.ADMIN_NO_UPCOMING)
        known = self.knowledge().regions
        lines = [replies.render_broadcast_line(b, self.tz, replies.render_audience(b.regions,
                                                                                   known))
                 for b in upcoming]
        return Reply.notice("\n".join([replies.ADMIN_UPCOMING_HEADER.format(count=len(upcoming)),
                                     *lines]))

    def _target(self, user: ChatRef, command: str, args: str,
                now: dt.datetime) -> Broadcast | Reply:
        """The broadcast an id-taking command names, or the reply that says why not."""
        if not self._guard(user, command, args, now):
            return Reply.notice(replies.ADMIN_REFUSED)
        broadcast_id = _broadcast_id(args)
        if broadcast_id is None:
            return Reply.notice(replies.ADMIN_NEED_ID.format(command=command))
        broadcast = self.store.broadcast(broadcast_id)
        if broadcast is None:
            return Reply.notice(replies.ADMIN_NOT_FOUND.format(id=broadcast_id))
        return broadcast

    def cancel(self, user: ChatRef, args: str, now: dt.datetime) -> Reply:
        """Cancel a broadcast (and the still-scheduled rest of its series)."""
        broadcast = self._target(user, CMD_CANCEL, args, now)
        if isinstance(broadcast, Reply):
            return broadcast
        broadcast_id = broadcast.id
        cancelled = self.store.cancel_broadcast(broadcast_id, now)
        if not cancelled:
            return Reply.notice(replies.ADMIN_CANNOT_CANCEL.format(
                id=broadcast_id, status=replies.BROADCAST_STATUS_LABELS[broadcast.status]))
        self._changed(now)
        more = len([i for i in cancelled if i != broadcast_id])
        if more:
            return Reply.notice(replies.ADMIN_CANCELLED_SERIES.format(id=broadcast_id, more=more))
        return Reply.notice(replies.ADMIN_CANCELLED.format(id=broadcast_id))

    def send_now(self, user: ChatRef, chat: ChatRef, args: str, now: dt.datetime) -> Reply:
        """Recap a scheduled broadcast (text, audience) and ask before sending it now."""
        broadcast = self._target(user, CMD_SEND_NOW, args, now)
        if isinstance(broadcast, Reply):
            return broadcast
        if broadcast.status is not BroadcastStatus.SCHEDULED:
            return Reply.notice(replies.ADMIN_CANNOT_SEND_NOW.format(
                id=broadcast.id, status=replies.BROADCAST_STATUS_LABELS[broadcast.status]))
        self._tokens += 1
        draft = Draft(self._tokens, broadcast.text, (), broadcast.regions, chat, now,
                      broadcast_id=broadcast.id)
        self._drafts[user] = draft
        audience = replies.render_audience(draft.regions, self.knowledge().regions)
        text = replies.render_preview(draft.text, None, None, audience,
                                      len(self.store.audience(draft.regions)),
                                      self._all_note(draft.regions))
        token = str(draft.token)
        return Reply.notice(
            f"{replies.ADMIN_SEND_NOW_RECAP.format(id=broadcast.id)}\n{text}",
            Choice(replies.ADMIN_CONFIRM_NOW_BUTTON, Action(ActionKind.ADMIN_CONFIRM, token)),
            Choice(replies.ADMIN_DISCARD_BUTTON, Action(ActionKind.ADMIN_DISCARD, token)))

    def _send_now(self, draft: Draft, now: dt.datetime) -> Reply:
        """The confirmed /kirimsekarang: move the broadcast to now (if still scheduled)."""
        broadcast_id = draft.broadcast_id or 0
        if not self.store.send_now(broadcast_id, now, draft.notify_chat):
            broadcast = self.store.broadcast(broadcast_id)
            status = broadcast.status if broadcast else BroadcastStatus.CANCELLED
            return Reply.notice(replies.ADMIN_CANNOT_SEND_NOW.format(
                id=broadcast_id, status=replies.BROADCAST_STATUS_LABELS[status]))
        self._changed(now)
        return Reply.notice(replies.ADMIN_STARTED.format(id=broadcast_id))

    def progress(self, user: ChatRef, args: str, now: dt.datetime) -> Reply:
        """Show a broadcast's progress or result (the latest started one by default)."""
        if not self._guard(user, CMD_PROGRESS, args, now):
            return Reply.notice(replies.ADMIN_REFUSED)
        broadcast_id = _broadcast_id(args)
        if broadcast_id is None:
            if args.strip():
                return Reply.notice(replies.ADMIN_NEED_ID.format(command=CMD_PROGRESS))
            recent = self.store.recent_broadcasts(1)
            if not recent:
                return Reply.notice(replies.ADMIN_NO_BROADCASTS)
            broadcast_id = recent[0].id
        broadcast = self.store.broadcast(broadcast_id)
        if broadcast is None:
            return Reply.notice(replies.ADMIN_NOT_FOUND.format(id=broadcast_id))
        return Reply.notice(replies.render_report(broadcast, report_for(self.store, broadcast)))

    # -- insight ----------------------------------------------------------------------------
    def statistics(self, user: ChatRef, now: dt.datetime) -> Reply:
        """Subscribers by region, pledges, questions, unanswered questions and broadcasts."""
        if not self._guard(user, CMD_STATS, "", now):
            return Reply.notice(replies.ADMIN_REFUSED)
        known = self.knowledge().regions
        by_region = self.store.subscribers_by_region()
        ordered = sorted(by_region.items(), key=lambda kv: (-kv[1], kv[0] or ""))
        region_lines = "\n".join(
            f"• {replies.render_audience((region,), known)}: {replies.format_number(n)}"
            for region, n in ordered) or replies.ADMIN_STATS_NO_REGIONS
        totals = self.store.totals()
        broadcasts = self.store.broadcast_totals()
        broadcast_text = ", ".join(
            f"{replies.BROADCAST_STATUS_LABELS[BroadcastStatus(status)]} {n}"
            for status, n in sorted(broadcasts.items())) or "0"
        n = replies.format_number
        return Reply.notice(replies.ADMIN_STATS.format(
            subscribers=n(sum(by_region.values())), regions=region_lines,
            pledges=n(self.store.pledge_count()), questions=n(totals.get("questions", 0)),
            answers=n(totals.get("answers", 0)), clarify=n(totals.get("clarify", 0)),
            fallbacks=n(totals.get("fallbacks", 0)), misses=n(self.store.miss_count()),
            broadcasts=broadcast_text))

    def unanswered(self, user: ChatRef, now: dt.datetime, limit: int = 15) -> Reply:
        """The newest unanswered questions and 👎, newest first."""
        if not self._guard(user, CMD_UNANSWERED, "", now):
            return Reply.notice(replies.ADMIN_REFUSED)
        misses = self.store.recent_misses(limit)
        if not misses:
            return Reply.notice(replies.ADMIN_NO_MISSES)
        lines = []
        for miss in misses:
            when = dt.datetime.fromisoformat(str(miss["created_at"])).astimezone(self.tz)
            text = " ".join(str(miss["text"]).split())[:200]
            lines.append(f"#{miss['id']} {when:%d/%m %H.%M} [{miss['kind']}] {text}")
            if self.suggest is not None:
                lines.append(replies.ADMIN_MISS_SUGGESTED.format(
                    intents=", ".join(self.suggest(str(miss["text"]))[:3]) or "-"))
        return Reply.notice("\n".join([replies.ADMIN_MISSES_HEADER.format(count=len(misses)),
                                     *lines, "", replies.ADMIN_LEARN_HINT]),
                            *(Choice(replies.ADMIN_MISS_BUTTON.format(n=m["id"]),
                                     Action(ActionKind.ADMIN_MISS, str(m["id"])))
                              for m in misses))

    def _miss_choices(self, number: str) -> Reply:
        """One logged question with a button per suggested intent, "Luar topik", "Abaikan"."""
        miss = self.store.miss(int(number)) if number.isdecimal() and len(number) <= 18 else None
        if miss is None:
            return Reply.notice(replies.ADMIN_MISS_GONE.format(n=number[:18]))
        text = " ".join(str(miss["text"]).split())
        intents = self.knowledge().intents
        suggested = [i for i in (self.suggest(text) if self.suggest else []) if i in intents][:3]

        def learn(label: str, target: str) -> Choice:
            return Choice(label, Action(ActionKind.ADMIN_LEARN, f"{miss['id']}:{target}"))

        return Reply.notice(
            replies.ADMIN_MISS_CHOOSE.format(n=miss["id"], text=text[:200]),
            *(learn(intents[i].title, i) for i in suggested),
            learn(replies.ADMIN_MISS_OUT_OF_SCOPE, LEARN_OUT_OF_SCOPE[0]),
            learn(replies.ADMIN_MISS_IGNORE, LEARN_IGNORE))

    def learn(self, user: ChatRef, args: str, now: dt.datetime) -> Reply:
        """/ajarkan <n> <intent|luar|abaikan>: a logged question becomes a reviewed phrasing of
        that intent in knowledge/learned.yaml (without its author), or is dismissed."""
        if not self._guard(user, CMD_LEARN, args, now):
            return Reply.notice(replies.ADMIN_REFUSED)
        parts = args.split()
        if len(parts) != 2:
            return Reply.notice(replies.ADMIN_LEARN_USAGE)
        return self._learn(parts[0], parts[1], now)

    def _learn(self, number: str, target: str, now: dt.datetime) -> Reply:
        """Attach logged question `number` to intent `target`, "luar" or dismiss it ("abaikan");
        a number or intent that does not exist (stale or forged) changes nothing."""
        miss = self.store.miss(int(number)) if number.isdecimal() and len(number) <= 18 else None
        if miss is None:
            return Reply.notice(replies.ADMIN_LEARN_USAGE)
        target = target.lower()
        if target != LEARN_IGNORE:
            intent_id = "luar_topik" if target in LEARN_OUT_OF_SCOPE else target
            if intent_id not in self.knowledge().intents:
                return Reply.notice(replies.ADMIN_LEARN_FAILED.format(
                    reason=replies.ADMIN_LEARN_UNKNOWN_INTENT.format(intent=intent_id[:40])))
            try:
                attach(self.settings.knowledge_dir, str(miss["text"]), intent_id,
                       now.astimezone(self.tz).date())
            except LearnError as exc:
                return Reply.notice(replies.ADMIN_LEARN_FAILED.format(reason=exc))
        self.store.delete_miss(int(miss["id"]))
        if target == LEARN_IGNORE:
            return Reply.notice(replies.ADMIN_LEARN_IGNORED.format(n=miss["id"]))
        return Reply.notice(replies.ADMIN_LEARNED.format(n=miss["id"], intent=intent_id))

    def reload_knowledge(self, user: ChatRef, now: dt.datetime,
                         reload: Callable[[], KnowledgeBase]) -> Reply:
        """Reload the knowledge base through `reload` (which loads and installs it).

        A broken edit raises `KnowledgeError` before anything is installed: the old knowledge
        base keeps running and the admin gets every problem, located by file and line.
        """
        if not self._guard(user, CMD_RELOAD, "", now):
            return Reply.notice(replies.ADMIN_REFUSED)
        try:
            kb = reload()
        except KnowledgeError as exc:
            shown = [str(p) for p in exc.problems[:MAX_PROBLEMS_SHOWN]]
            if len(exc.problems) > MAX_PROBLEMS_SHOWN:
                shown.append(f"… +{len(exc.problems) - MAX_PROBLEMS_SHOWN}")
            self.store.record_audit(user, "reload_failed", "\n".join(shown), True, now)
            return Reply.notice(replies.ADMIN_RELOAD_FAILED.format(
                count=len(exc.problems), problems="\n".join(f"• {s}" for s in shown)))
        self._changed(now)
        return Reply.notice(replies.ADMIN_RELOADED.format(
            intents=len(kb.intents), regions=len(kb.regions),
            elections=len(kb.calendar.elections)))

    # -- helpers ----------------------------------------------------------------------------
    def _show(self, moment: dt.datetime) -> str:
        return replies.format_local_time(moment, self.tz)

    def _zone_name(self, now: dt.datetime) -> str:
        return now.astimezone(self.tz).tzname() or str(self.tz)


def _broadcast_id(args: str) -> int | None:
    word = args.strip().lstrip("#")
    # isdecimal, not isdigit ("²" is a digit but no number); SQLite integers are 64-bit.
    return int(word) if word.isdecimal() and len(word) <= 18 else None
