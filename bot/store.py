"""SQLite storage through sqlite-utils: one file, WAL mode, versioned migrations.

Stores the minimum: chat id, region, subscription state, pledge time, answer feedback, and the
text of unanswered questions (no chat id, no profile data). Times are ISO-8601 UTC strings and
are always passed in by the caller (`now`), never read from the clock here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from bot.models import (
    Audience,
    Broadcast,
    BroadcastStatus,
    CalendarBroadcast,
    DeliveryCounts,
    DeliveryStatus,
    Origin,
)

MAX_MISS_CHARS = 500
_ACTIVE = "subscribed = 1 AND blocked = 0"  # a chat that receives reminders

migrations = Migrations("tanya_netral")


@migrations()
def m001_chats_pledges_feedback(db: Database) -> None:
    """Create the first schema: chats, pledges, feedback, misses and daily counters."""
    db["chats"].create(
        {"chat_id": int, "region": str, "subscribed": int, "blocked": int,
         "created_at": str, "updated_at": str},
        pk="chat_id", not_null={"subscribed", "blocked", "created_at", "updated_at"},
        defaults={"subscribed": 0, "blocked": 0},
    )
    db["pledges"].create({"chat_id": int, "pledged_at": str}, pk="chat_id",
                         not_null={"pledged_at"})
    db["feedback"].create(
        {"chat_id": int, "message_id": int, "intent": str, "useful": int, "created_at": str},
        pk=("chat_id", "message_id"), not_null={"useful", "created_at"},
    )
    db["misses"].create({"id": int, "text": str, "kind": str, "intent": str, "created_at": str},
                        pk="id", not_null={"text", "kind", "created_at"})
    db["daily_counts"].create({"day": str, "name": str, "n": int}, pk=("day", "name"),
                              not_null={"n"})


@migrations()
def m002_broadcasts(db: Database) -> None:
    """Add broadcasts, their per-chat deliveries and the admin audit log."""
    db.execute("""
        CREATE TABLE broadcasts (
            id INTEGER PRIMARY KEY,
            key TEXT UNIQUE,
            text TEXT NOT NULL,
            send_at TEXT NOT NULL,
            regions TEXT,
            status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN
                ('scheduled', 'sending', 'done', 'cancelled', 'missed')),
            origin TEXT NOT NULL CHECK (origin IN ('admin', 'calendar')),
            created_by INTEGER,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            notify_chat INTEGER,
            series INTEGER
        )""")
    db.execute("CREATE INDEX idx_broadcasts_status_send_at ON broadcasts (status, send_at)")
    db.execute("CREATE INDEX idx_broadcasts_series ON broadcasts (series)")
    db.execute("""
        CREATE TABLE deliveries (
            broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id),
            chat_id INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                ('pending', 'sending', 'sent', 'failed', 'blocked')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            PRIMARY KEY (broadcast_id, chat_id)
        )""")
    db.execute("CREATE INDEX idx_deliveries_status ON deliveries (broadcast_id, status)")
    db.execute("""
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            detail TEXT,
            allowed INTEGER NOT NULL
        )""")


def iso(moment: dt.datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class ChatState:
    """What is stored about one chat."""

    chat_id: int
    region: str | None
    subscribed: bool
    blocked: bool
    pledged_at: str | None


class Store:
    """The only module that talks SQL; everything else calls these methods."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.path)
        self.db.enable_wal()
        self.db.execute("PRAGMA busy_timeout = 5000")
        migrations.apply(self.db)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[Database]:
        with self.db.atomic():
            yield self.db

    # -- chats ------------------------------------------------------------------------------
    def _touch(self, chat_id: int, now: dt.datetime, **fields: object) -> None:
        stamp = iso(now)
        self.db.execute(
            "INSERT INTO chats (chat_id, created_at, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(chat_id) DO NOTHING", [chat_id, stamp, stamp])
        if fields:
            sets = ", ".join(f"{name} = ?" for name in fields)
            self.db.execute(f"UPDATE chats SET {sets}, updated_at = ? WHERE chat_id = ?",
                            [*fields.values(), stamp, chat_id])

    def chat(self, chat_id: int) -> ChatState | None:
        """Return what is stored about a chat, or None."""
        row = self.db.execute(
            "SELECT c.chat_id, c.region, c.subscribed, c.blocked, p.pledged_at FROM chats c "
            "LEFT JOIN pledges p ON p.chat_id = c.chat_id WHERE c.chat_id = ?", [chat_id],
        ).fetchone()
        if row is None:
            return None
        return ChatState(row[0], row[1], bool(row[2]), bool(row[3]), row[4])

    def subscribe(self, chat_id: int, region: str | None, now: dt.datetime) -> None:
        """Subscribe a chat to reminders for a region (None = all of Indonesia)."""
        with self._tx():
            self._touch(chat_id, now, region=region, subscribed=1, blocked=0)

    def unsubscribe(self, chat_id: int, now: dt.datetime) -> bool:
        """Stop reminders for a chat; return whether it was subscribed."""
        state = self.chat(chat_id)
        with self._tx():
            self._touch(chat_id, now, subscribed=0)
        return bool(state and state.subscribed)

    def set_blocked(self, chat_id: int, blocked: bool, now: dt.datetime) -> None:
        """Record that the user blocked (or unblocked) the bot."""
        with self._tx():
            self._touch(chat_id, now, blocked=int(blocked))

    def subscribers(self, region: str | None = None) -> list[int]:
        """Chat ids that receive reminders (optionally only one region's), in id order."""
        sql = f"SELECT chat_id FROM chats WHERE {_ACTIVE}"
        params: list[object] = []
        if region is not None:
            sql += " AND region = ?"
            params.append(region)
        return [r[0] for r in self.db.execute(sql + " ORDER BY chat_id", params).fetchall()]

    def subscribers_by_region(self) -> dict[str | None, int]:
        """Count of active subscribers per region."""
        rows = self.db.execute(
            f"SELECT region, COUNT(*) FROM chats WHERE {_ACTIVE} "
            "GROUP BY region ORDER BY region").fetchall()
        return {r[0]: r[1] for r in rows}

    def delete_chat(self, chat_id: int) -> None:
        """Delete everything stored about a chat (/hapusdata)."""
        with self._tx() as db:
            for table in ("pledges", "feedback", "chats", "deliveries"):
                db.execute(f"DELETE FROM {table} WHERE chat_id = ?", [chat_id])
            # Refused admin attempts name the user (private chat id = user id); admins' own
            # actions stay, as the audit trail of what was sent.
            db.execute("DELETE FROM audit WHERE user_id = ? AND allowed = 0", [chat_id])

    # -- pledges, feedback, misses ----------------------------------------------------------
    def record_pledge(self, chat_id: int, now: dt.datetime) -> tuple[bool, str]:
        """Record a digital pledge once; return (newly recorded, pledge time)."""
        with self._tx() as db:
            self._touch(chat_id, now)
            cursor = db.execute(
                "INSERT INTO pledges (chat_id, pledged_at) VALUES (?, ?) "
                "ON CONFLICT(chat_id) DO NOTHING", [chat_id, iso(now)])
            created = cursor.rowcount == 1
        row = self.db.execute("SELECT pledged_at FROM pledges WHERE chat_id = ?",
                              [chat_id]).fetchone()
        return created, row[0]

    def pledge_count(self) -> int:
        """Number of recorded pledges."""
        return self.db["pledges"].count

    def record_feedback(self, chat_id: int, message_id: int, intent: str | None,
                        useful: bool, now: dt.datetime) -> None:
        """Store 👍/👎 for one answer; pressing again replaces the earlier vote."""
        with self._tx() as db:
            db["feedback"].upsert({"chat_id": chat_id, "message_id": message_id,
                                   "intent": intent, "useful": int(useful),
                                   "created_at": iso(now)}, pk=("chat_id", "message_id"))

    def record_miss(self, text: str, kind: str, intent: str | None, now: dt.datetime) -> None:
        """Log an unanswered question or a 👎 (text only) for admins."""
        with self._tx() as db:
            db["misses"].insert({"text": text[:MAX_MISS_CHARS], "kind": kind, "intent": intent,
                                 "created_at": iso(now)})

    def recent_misses(self, limit: int = 20) -> list[dict[str, object]]:
        """The newest unanswered questions and 👎, newest first."""
        return list(self.db["misses"].rows_where(order_by="id desc", limit=limit))

    def count(self, name: str, now: dt.datetime) -> None:
        """Increase a daily counter (questions, answers, fallbacks …)."""
        day = now.astimezone(dt.UTC).date().isoformat()
        self.db.execute(
            "INSERT INTO daily_counts (day, name, n) VALUES (?, ?, 1) "
            "ON CONFLICT(day, name) DO UPDATE SET n = n + 1", [day, name])
        self.db.conn.commit()

    def totals(self) -> dict[str, int]:
        """Counter totals over all days."""
        rows = self.db.execute("SELECT name, SUM(n) FROM daily_counts GROUP BY name").fetchall()
        return {r[0]: r[1] for r in rows}

    # -- broadcasts -------------------------------------------------------------------------
    # Every status change is a conditional UPDATE on the current status, so repeating a call
    # (a retried job, a resumed process) changes nothing the second time.
    def create_broadcasts(self, text: str, send_ats: Sequence[dt.datetime],
                          regions: Audience | None, created_by: int | None, now: dt.datetime,
                          notify_chat: int | None = None) -> list[Broadcast]:
        """Store an admin broadcast at each time; several times form one series.

        Args:
            regions: Region ids of the audience (None in it = subscribers without a region);
                None = every subscriber.
            notify_chat: Chat that receives progress reports.

        Returns:
            The new broadcasts, in `send_ats` order; a series shares the first one's id.
        """
        if not send_ats:
            raise ValueError("at least one send time is required")
        ids: list[int] = []
        with self._tx() as db:
            for send_at in send_ats:
                cursor = db.execute(
                    "INSERT INTO broadcasts (text, send_at, regions, status, origin, created_by, "
                    "created_at, notify_chat) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [text, iso(send_at), _regions_json(regions), BroadcastStatus.SCHEDULED,
                     Origin.ADMIN, created_by, iso(now), notify_chat])
                ids.append(int(cursor.lastrowid or 0))
            if len(ids) > 1:
                marks = ", ".join("?" * len(ids))
                db.execute(f"UPDATE broadcasts SET series = ? WHERE id IN ({marks})",
                           [ids[0], *ids])
        return [b for b in (self.broadcast(i) for i in ids) if b is not None]

    def create_broadcast(self, text: str, send_at: dt.datetime, regions: Audience | None,
                         created_by: int | None, now: dt.datetime,
                         notify_chat: int | None = None) -> Broadcast:
        """Store one admin broadcast (see `create_broadcasts`)."""
        return self.create_broadcasts(text, [send_at], regions, created_by, now, notify_chat)[0]

    def sync_calendar(self, planned: Iterable[CalendarBroadcast], now: dt.datetime) -> CalendarSync:
        """Bring calendar reminders in line with the calendar, idempotently.

        New keys are inserted only when their time is still ahead (a past stage never produces a
        send). A still-scheduled reminder whose time or text changed in the calendar is updated,
        or cancelled if its new time has passed; one whose key left the calendar is cancelled.
        Reminders that already started, finished, or were cancelled or missed are never touched.
        """
        created = updated = cancelled = 0
        stamp = iso(now)
        with self._tx() as db:
            existing = {r[0]: r[1:] for r in db.execute(
                "SELECT key, id, status, send_at, text, regions FROM broadcasts "
                "WHERE origin = ? AND key IS NOT NULL", [Origin.CALENDAR]).fetchall()}
            wanted: set[str] = set()
            for item in planned:
                wanted.add(item.key)
                send_at, regions = iso(item.send_at), _regions_json(item.regions)
                row = existing.get(item.key)
                if row is None:
                    if item.send_at > now:
                        db.execute(
                            "INSERT INTO broadcasts (key, text, send_at, regions, status, origin, "
                            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [item.key, item.text, send_at, regions, BroadcastStatus.SCHEDULED,
                             Origin.CALENDAR, stamp])
                        created += 1
                    continue
                row_id, status, old_send_at, old_text, old_regions = row
                if status != BroadcastStatus.SCHEDULED or (
                        (old_send_at, old_text, old_regions) == (send_at, item.text, regions)):
                    continue
                if item.send_at > now:
                    db.execute("UPDATE broadcasts SET send_at = ?, text = ?, regions = ? "
                               "WHERE id = ? AND status = ?",
                               [send_at, item.text, regions, row_id, BroadcastStatus.SCHEDULED])
                    updated += 1
                else:
                    cancelled += self._cancel_one(row_id, stamp)
            for key, (row_id, status, *_) in existing.items():
                if key not in wanted and status == BroadcastStatus.SCHEDULED:
                    cancelled += self._cancel_one(row_id, stamp)
        return CalendarSync(created=created, updated=updated, cancelled=cancelled)

    def _cancel_one(self, broadcast_id: int, stamp: str) -> int:
        cursor = self.db.execute(
            "UPDATE broadcasts SET status = ?, finished_at = ? WHERE id = ? AND status IN (?, ?)",
            [BroadcastStatus.CANCELLED, stamp, broadcast_id, BroadcastStatus.SCHEDULED,
             BroadcastStatus.SENDING])
        return cursor.rowcount

    def broadcast(self, broadcast_id: int) -> Broadcast | None:
        """Return one broadcast, or None."""
        row = self.db.execute(f"SELECT {_BROADCAST_COLUMNS} FROM broadcasts WHERE id = ?",
                              [broadcast_id]).fetchone()
        return _broadcast(row) if row else None

    def broadcast_status(self, broadcast_id: int) -> BroadcastStatus | None:
        """Return just the status of a broadcast (cheap; checked before every send)."""
        row = self.db.execute("SELECT status FROM broadcasts WHERE id = ?",
                              [broadcast_id]).fetchone()
        return BroadcastStatus(row[0]) if row else None

    def broadcasts_in(self, *statuses: BroadcastStatus) -> list[Broadcast]:
        """Broadcasts with one of these statuses, soonest first."""
        marks = ", ".join("?" * len(statuses))
        rows = self.db.execute(
            f"SELECT {_BROADCAST_COLUMNS} FROM broadcasts WHERE status IN ({marks}) "
            "ORDER BY send_at, id", list(statuses)).fetchall()
        return [_broadcast(r) for r in rows]

    def upcoming_broadcasts(self, limit: int = 20) -> list[Broadcast]:
        """Scheduled broadcasts, soonest first."""
        rows = self.db.execute(
            f"SELECT {_BROADCAST_COLUMNS} FROM broadcasts WHERE status = ? "
            "ORDER BY send_at, id LIMIT ?", [BroadcastStatus.SCHEDULED, limit]).fetchall()
        return [_broadcast(r) for r in rows]

    def recent_broadcasts(self, limit: int = 10) -> list[Broadcast]:
        """Broadcasts that started, finished, or were cancelled or missed, newest first."""
        rows = self.db.execute(
            f"SELECT {_BROADCAST_COLUMNS} FROM broadcasts WHERE status != ? "
            "ORDER BY COALESCE(started_at, finished_at, send_at) DESC, id DESC LIMIT ?",
            [BroadcastStatus.SCHEDULED, limit]).fetchall()
        return [_broadcast(r) for r in rows]

    def series_broadcasts(self, series: int) -> list[Broadcast]:
        """Every occurrence of a recurring broadcast, in time order."""
        rows = self.db.execute(
            f"SELECT {_BROADCAST_COLUMNS} FROM broadcasts WHERE series = ? ORDER BY send_at, id",
            [series]).fetchall()
        return [_broadcast(r) for r in rows]

    def cancel_broadcast(self, broadcast_id: int, now: dt.datetime) -> list[int]:
        """Cancel a scheduled or sending broadcast and every still-scheduled one of its series.

        Returns:
            The ids actually cancelled (empty when there was nothing left to cancel).
        """
        stamp = iso(now)
        with self._tx() as db:
            row = db.execute("SELECT series FROM broadcasts WHERE id = ?",
                             [broadcast_id]).fetchone()
            if row is None:
                return []
            ids = [broadcast_id] if self._cancel_one(broadcast_id, stamp) else []
            if row[0] is not None:
                rest = [r[0] for r in db.execute(
                    "SELECT id FROM broadcasts WHERE series = ? AND status = ? AND id != ? "
                    "ORDER BY send_at, id",
                    [row[0], BroadcastStatus.SCHEDULED, broadcast_id]).fetchall()]
                ids += [i for i in rest if self._cancel_one(i, stamp)]
        return ids

    def send_now(self, broadcast_id: int, now: dt.datetime, notify_chat: int | None = None) -> bool:
        """Move a scheduled broadcast's time to `now` (the scheduler then starts it)."""
        cursor = self.db.execute(
            "UPDATE broadcasts SET send_at = ?, notify_chat = COALESCE(?, notify_chat) "
            "WHERE id = ? AND status = ?",
            [iso(now), notify_chat, broadcast_id, BroadcastStatus.SCHEDULED])
        return cursor.rowcount == 1

    def mark_missed(self, broadcast_id: int, now: dt.datetime) -> bool:
        """Give up on a scheduled broadcast whose time passed beyond the grace window."""
        cursor = self.db.execute(
            "UPDATE broadcasts SET status = ?, finished_at = ? WHERE id = ? AND status = ?",
            [BroadcastStatus.MISSED, iso(now), broadcast_id, BroadcastStatus.SCHEDULED])
        return cursor.rowcount == 1

    def claim_broadcast(self, broadcast_id: int, now: dt.datetime) -> bool:
        """Start a scheduled broadcast: mark it sending and fix its audience, atomically.

        One pending delivery row is inserted per current subscriber of the audience (insert or
        ignore), in the same transaction as the status change, so after a crash either both
        happened or neither did.

        Returns:
            False when the broadcast was not scheduled (already claimed, cancelled, unknown).
        """
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE broadcasts SET status = ?, started_at = ? WHERE id = ? AND status = ?",
                [BroadcastStatus.SENDING, iso(now), broadcast_id, BroadcastStatus.SCHEDULED])
            if cursor.rowcount != 1:
                return False
            raw = db.execute("SELECT regions FROM broadcasts WHERE id = ?",
                             [broadcast_id]).fetchone()[0]
            where, params = _audience_filter(_regions_from_json(raw))
            db.execute(
                "INSERT OR IGNORE INTO deliveries (broadcast_id, chat_id, status, attempts) "
                f"SELECT ?, chat_id, ?, 0 FROM chats WHERE {where}",
                [broadcast_id, DeliveryStatus.PENDING, *params])
        return True

    def finish_broadcast(self, broadcast_id: int, now: dt.datetime) -> bool:
        """Mark a sending broadcast done once no delivery is pending or in flight."""
        cursor = self.db.execute(
            "UPDATE broadcasts SET status = ?, finished_at = ? WHERE id = ? AND status = ? "
            "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE broadcast_id = ? AND status IN (?, ?))",
            [BroadcastStatus.DONE, iso(now), broadcast_id, BroadcastStatus.SENDING, broadcast_id,
             DeliveryStatus.PENDING, DeliveryStatus.SENDING])
        return cursor.rowcount == 1

    def audience(self, regions: Audience | None) -> list[int]:
        """Chat ids an audience would reach now (active subscribers), in id order."""
        where, params = _audience_filter(regions)
        rows = self.db.execute(f"SELECT chat_id FROM chats WHERE {where} ORDER BY chat_id",
                               params).fetchall()
        return [r[0] for r in rows]

    # -- deliveries -------------------------------------------------------------------------
    def open_deliveries(self, broadcast_id: int) -> list[int]:
        """Chats still to be sent: in-flight rows (interrupted by a crash) first, then pending."""
        rows = self.db.execute(
            "SELECT chat_id FROM deliveries WHERE broadcast_id = ? AND status IN (?, ?) "
            "ORDER BY status = ?, chat_id",
            [broadcast_id, DeliveryStatus.SENDING, DeliveryStatus.PENDING,
             DeliveryStatus.PENDING]).fetchall()
        return [r[0] for r in rows]

    def begin_delivery(self, broadcast_id: int, chat_id: int) -> bool:
        """Mark a delivery in flight (committed before the message leaves) and count the attempt.

        A chat that unsubscribed, blocked the bot or deleted its data since the audience was
        fixed is not sent to: its row is marked blocked or removed.

        Returns:
            True when the caller may send now.
        """
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1 "
                "WHERE broadcast_id = ? AND chat_id = ? AND status IN (?, ?) AND EXISTS "
                f"(SELECT 1 FROM chats WHERE chat_id = ? AND {_ACTIVE})",
                [DeliveryStatus.SENDING, broadcast_id, chat_id, DeliveryStatus.PENDING,
                 DeliveryStatus.SENDING, chat_id])
            if cursor.rowcount == 1:
                return True
            chat = db.execute("SELECT blocked FROM chats WHERE chat_id = ?", [chat_id]).fetchone()
            open_params = [broadcast_id, chat_id, DeliveryStatus.PENDING, DeliveryStatus.SENDING]
            if chat is not None and chat[0]:
                db.execute("UPDATE deliveries SET status = ?, last_error = ? WHERE "
                           "broadcast_id = ? AND chat_id = ? AND status IN (?, ?)",
                           [DeliveryStatus.BLOCKED, "chat blocked the bot", *open_params])
            else:
                db.execute("DELETE FROM deliveries WHERE broadcast_id = ? AND chat_id = ? "
                           "AND status IN (?, ?)", open_params)
        return False

    def retry_delivery(self, broadcast_id: int, chat_id: int, error: str) -> bool:
        """Count one more attempt of an in-flight delivery after a transient error."""
        cursor = self.db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ? "
            "WHERE broadcast_id = ? AND chat_id = ? AND status = ?",
            [error[:MAX_MISS_CHARS], broadcast_id, chat_id, DeliveryStatus.SENDING])
        return cursor.rowcount == 1

    def finish_delivery(self, broadcast_id: int, chat_id: int, status: DeliveryStatus,
                        now: dt.datetime, error: str | None = None) -> bool:
        """Record how an in-flight delivery ended: sent, failed or blocked.

        Blocked also marks the chat blocked (in the same transaction), so no later broadcast
        tries it again until the user comes back.
        """
        if status not in (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED):
            raise ValueError(f"not a final delivery status: {status}")
        stamp = iso(now)
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE deliveries SET status = ?, sent_at = ?, last_error = COALESCE(?, "
                "last_error) WHERE broadcast_id = ? AND chat_id = ? AND status = ?",
                [status, stamp if status is DeliveryStatus.SENT else None,
                 error[:MAX_MISS_CHARS] if error else None, broadcast_id, chat_id,
                 DeliveryStatus.SENDING])
            if cursor.rowcount == 1 and status is DeliveryStatus.BLOCKED:
                db.execute("UPDATE chats SET blocked = 1, updated_at = ? WHERE chat_id = ?",
                           [stamp, chat_id])
        return cursor.rowcount == 1

    def delivery_counts(self, broadcast_id: int) -> DeliveryCounts:
        """Sent, pending (including in flight), failed and blocked copies of a broadcast."""
        rows = dict(self.db.execute(
            "SELECT status, COUNT(*) FROM deliveries WHERE broadcast_id = ? GROUP BY status",
            [broadcast_id]).fetchall())
        return DeliveryCounts(
            sent=rows.get(DeliveryStatus.SENT, 0),
            pending=rows.get(DeliveryStatus.PENDING, 0) + rows.get(DeliveryStatus.SENDING, 0),
            failed=rows.get(DeliveryStatus.FAILED, 0),
            blocked=rows.get(DeliveryStatus.BLOCKED, 0),
        )

    def deliveries(self, broadcast_id: int) -> list[dict[str, Any]]:
        """Every delivery row of a broadcast, by chat id (for reports and tests)."""
        return list(self.db["deliveries"].rows_where(
            "broadcast_id = ?", [broadcast_id], order_by="chat_id"))

    # -- audit and statistics ---------------------------------------------------------------
    def record_audit(self, user_id: int, action: str, detail: str, allowed: bool,
                     now: dt.datetime) -> None:
        """Log an admin action, or a refused attempt by someone who is not an admin."""
        self.db.execute(
            "INSERT INTO audit (at, user_id, action, detail, allowed) VALUES (?, ?, ?, ?, ?)",
            [iso(now), user_id, action, detail[:MAX_MISS_CHARS], int(allowed)])

    def audit_log(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest audit entries, newest first."""
        return list(self.db["audit"].rows_where(order_by="id desc", limit=limit))

    def miss_count(self) -> int:
        """Number of logged unanswered questions and 👎."""
        return self.db["misses"].count

    def broadcast_totals(self) -> dict[str, int]:
        """Number of broadcasts per status."""
        rows = self.db.execute("SELECT status, COUNT(*) FROM broadcasts GROUP BY status")
        return {r[0]: r[1] for r in rows.fetchall()}


@dataclass(frozen=True, slots=True)
class CalendarSync:
    """What `Store.sync_calendar` changed."""

    created: int = 0
    updated: int = 0
    cancelled: int = 0


_BROADCAST_COLUMNS = ("id, key, text, send_at, regions, status, origin, created_by, created_at, "
                      "started_at, finished_at, notify_chat, series")


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _broadcast(row: Sequence[Any]) -> Broadcast:
    (bid, key, text, send_at, regions, status, origin, created_by, created_at, started_at,
     finished_at, notify_chat, series) = row
    return Broadcast(
        id=bid, key=key, text=text, send_at=dt.datetime.fromisoformat(send_at),
        regions=_regions_from_json(regions), status=BroadcastStatus(status),
        origin=Origin(origin), created_by=created_by, created_at=_when(created_at),
        started_at=_when(started_at), finished_at=_when(finished_at), notify_chat=notify_chat,
        series=series)


def _regions_json(regions: Audience | None) -> str | None:
    return None if regions is None else json.dumps(list(regions))


def _regions_from_json(raw: str | None) -> Audience | None:
    return None if raw is None else tuple(json.loads(raw))


def _audience_filter(regions: Audience | None) -> tuple[str, list[object]]:
    """SQL condition on `chats` for the active subscribers of an audience."""
    where = _ACTIVE
    if regions is None:
        return where, []
    named = [r for r in regions if r is not None]
    parts = [f"region IN ({', '.join('?' * len(named))})"] if named else []
    if None in regions:
        parts.append("region IS NULL")
    if not parts:
        return where + " AND 0", []
    return f"{where} AND ({' OR '.join(parts)})", list(named)
