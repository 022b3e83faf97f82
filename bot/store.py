"""SQLite storage through sqlite-utils: one file, WAL mode, versioned migrations.

Stores the minimum: chat id, region, subscription state, pledge time, answer feedback, and the
text of unanswered questions (no chat id, no profile data). Times are ISO-8601 UTC strings and
are always passed in by the caller (`now`), never read from the clock here.

A chat is a `ChatRef`, (channel, the transport's id as text): chats, pledges, feedback,
deliveries and audit rows are keyed by both columns (migration m003 turned every older row into
a Telegram chat).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
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
    ChatRef,
    DeliveryCounts,
    DeliveryStatus,
    Origin,
)

MAX_MISS_CHARS = 500
_MISS_FIELDS = "id, text, kind, intent, created_at"  # what admins see of a logged question
_ACTIVE = "subscribed = 1 AND blocked = 0"  # a chat that receives reminders
_ACTIVE_C = "c.subscribed = 1 AND c.blocked = 0"

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


@migrations()
def m003_chat_refs(db: Database) -> None:
    """Key every chat by (channel, id as text); existing rows become Telegram chats.

    Also adds what WhatsApp needs: a chat's last inbound message (its 24-hour window) and, per
    delivery, the transport's message id and its delivery receipt (delivered, read, failed).
    """
    db.execute("""
        CREATE TABLE chats_v3 (
            channel TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            region TEXT,
            subscribed INTEGER NOT NULL DEFAULT 0,
            blocked INTEGER NOT NULL DEFAULT 0,
            last_inbound_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (channel, chat_id)
        )""")
    db.execute("INSERT INTO chats_v3 (channel, chat_id, region, subscribed, blocked, created_at, "
               "updated_at) SELECT 'telegram', CAST(chat_id AS TEXT), region, subscribed, blocked, "
               "created_at, updated_at FROM chats")
    db.execute("""
        CREATE TABLE pledges_v3 (
            channel TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            pledged_at TEXT NOT NULL,
            PRIMARY KEY (channel, chat_id)
        )""")
    db.execute("INSERT INTO pledges_v3 SELECT 'telegram', CAST(chat_id AS TEXT), pledged_at "
               "FROM pledges")
    db.execute("""
        CREATE TABLE feedback_v3 (
            channel TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            intent TEXT,
            useful INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (channel, chat_id, message_id)
        )""")
    db.execute("INSERT INTO feedback_v3 SELECT 'telegram', CAST(chat_id AS TEXT), "
               "CAST(message_id AS TEXT), intent, useful, created_at FROM feedback")
    db.execute("""
        CREATE TABLE broadcasts_v3 (
            id INTEGER PRIMARY KEY,
            key TEXT UNIQUE,
            text TEXT NOT NULL,
            send_at TEXT NOT NULL,
            regions TEXT,
            status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN
                ('scheduled', 'sending', 'done', 'cancelled', 'missed')),
            origin TEXT NOT NULL CHECK (origin IN ('admin', 'calendar')),
            created_by TEXT,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            notify_channel TEXT,
            notify_chat TEXT,
            series INTEGER
        )""")
    db.execute("INSERT INTO broadcasts_v3 SELECT id, key, text, send_at, regions, status, origin, "
               "CASE WHEN created_by IS NULL THEN NULL ELSE 'telegram:' || created_by END, "
               "created_at, started_at, finished_at, "
               "CASE WHEN notify_chat IS NULL THEN NULL ELSE 'telegram' END, "
               "CAST(notify_chat AS TEXT), series FROM broadcasts")
    db.execute("""
        CREATE TABLE deliveries_v3 (
            broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id),
            channel TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                ('pending', 'sending', 'sent', 'failed', 'blocked')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            message_id TEXT,
            receipt TEXT,
            receipt_at TEXT,
            PRIMARY KEY (broadcast_id, channel, chat_id)
        )""")
    db.execute("INSERT INTO deliveries_v3 (broadcast_id, channel, chat_id, status, attempts, "
               "last_error, sent_at) SELECT broadcast_id, 'telegram', CAST(chat_id AS TEXT), "
               "status, attempts, last_error, sent_at FROM deliveries")
    db.execute("""
        CREATE TABLE audit_v3 (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            channel TEXT NOT NULL,
            user_id TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT,
            allowed INTEGER NOT NULL
        )""")
    db.execute("INSERT INTO audit_v3 SELECT id, at, 'telegram', CAST(user_id AS TEXT), action, "
               "detail, allowed FROM audit")
    for table in ("deliveries", "audit", "feedback", "pledges", "chats", "broadcasts"):
        db.execute(f"DROP TABLE {table}")
    for table in ("broadcasts", "chats", "pledges", "feedback", "deliveries", "audit"):
        db.execute(f"ALTER TABLE {table}_v3 RENAME TO {table}")
    db.execute("CREATE INDEX idx_broadcasts_status_send_at ON broadcasts (status, send_at)")
    db.execute("CREATE INDEX idx_broadcasts_series ON broadcasts (series)")
    db.execute("CREATE INDEX idx_deliveries_status ON deliveries (broadcast_id, status)")
    db.execute("CREATE INDEX idx_deliveries_message ON deliveries (message_id)")


@migrations()
def m004_miss_askers(db: Database) -> None:
    """Remember who asked a logged question, only so that their /hapusdata erases its text.

    Admins never see it (`recent_misses` returns the text, kind and intent); rows from before
    this migration have no asker.
    """
    db.execute("ALTER TABLE misses ADD COLUMN channel TEXT")
    db.execute("ALTER TABLE misses ADD COLUMN chat_id TEXT")
    db.execute("CREATE INDEX idx_misses_asker ON misses (channel, chat_id)")


@migrations()
def m005_sending_time(db: Database) -> None:
    """Remember how long a broadcast has spent sending, so a resumed one reports sending time
    (not the downtime between the crash and the restart)."""
    db.execute("ALTER TABLE broadcasts ADD COLUMN sending_seconds REAL NOT NULL DEFAULT 0")


def iso(moment: dt.datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class ChatState:
    """What is stored about one chat."""

    chat: ChatRef
    region: str | None
    subscribed: bool
    blocked: bool
    pledged_at: str | None
    last_inbound_at: dt.datetime | None = None


class StoreError(RuntimeError):
    """The database file cannot be opened or migrated (one line, for the operator)."""


class Store:
    """The only module that talks SQL; everything else calls these methods.

    Raises:
        StoreError: At construction, if the file cannot be created, opened or migrated.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = Database(self.path)
            self.db.enable_wal()
            self.db.execute("PRAGMA busy_timeout = 5000")
            migrations.apply(self.db)
        except (OSError, sqlite3.Error) as exc:
            reason = ("a parent is a file, not a folder" if isinstance(exc, FileExistsError)
                      else exc.strerror if isinstance(exc, OSError) and exc.strerror
                      else str(exc))
            raise StoreError(f"DB_PATH: cannot open the database {self.path} ({reason}); "
                             "choose a writable location") from None

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[Database]:
        with self.db.atomic():
            yield self.db

    # -- chats ------------------------------------------------------------------------------
    def _touch(self, chat: ChatRef, now: dt.datetime, **fields: object) -> None:
        stamp = iso(now)
        self.db.execute(
            "INSERT INTO chats (channel, chat_id, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(channel, chat_id) DO NOTHING", [chat.channel, chat.id, stamp, stamp])
        if fields:
            sets = ", ".join(f"{name} = ?" for name in fields)
            self.db.execute(
                f"UPDATE chats SET {sets}, updated_at = ? WHERE channel = ? AND chat_id = ?",
                [*fields.values(), stamp, chat.channel, chat.id])

    def chat(self, chat: ChatRef) -> ChatState | None:
        """Return what is stored about a chat, or None."""
        row = self.db.execute(
            "SELECT c.region, c.subscribed, c.blocked, p.pledged_at, c.last_inbound_at "
            "FROM chats c LEFT JOIN pledges p ON p.channel = c.channel AND p.chat_id = c.chat_id "
            "WHERE c.channel = ? AND c.chat_id = ?", [chat.channel, chat.id],
        ).fetchone()
        if row is None:
            return None
        return ChatState(chat, row[0], bool(row[1]), bool(row[2]), row[3], _when(row[4]))

    def subscribe(self, chat: ChatRef, region: str | None, now: dt.datetime) -> None:
        """Subscribe a chat to reminders for a region (None = all of Indonesia)."""
        with self._tx():
            self._touch(chat, now, region=region, subscribed=1, blocked=0)

    def unsubscribe(self, chat: ChatRef, now: dt.datetime) -> bool:
        """Stop reminders for a chat; return whether it was subscribed."""
        state = self.chat(chat)
        with self._tx():
            self._touch(chat, now, subscribed=0)
        return bool(state and state.subscribed)

    def set_blocked(self, chat: ChatRef, blocked: bool, now: dt.datetime) -> None:
        """Record that the user blocked (or unblocked) the bot."""
        with self._tx():
            self._touch(chat, now, blocked=int(blocked))

    def record_inbound(self, chat: ChatRef, now: dt.datetime) -> None:
        """Remember when a known chat last wrote to us (WhatsApp's 24-hour window opens then).

        A chat we store nothing about is not created: writing alone leaves no trace.
        """
        self.db.execute("UPDATE chats SET last_inbound_at = ? WHERE channel = ? AND chat_id = ?",
                        [iso(now), chat.channel, chat.id])
        self.db.conn.commit()

    def subscribers(self, region: str | None = None) -> list[ChatRef]:
        """Chats that receive reminders (optionally only one region's), in id order."""
        sql = f"SELECT channel, chat_id FROM chats WHERE {_ACTIVE}"
        params: list[object] = []
        if region is not None:
            sql += " AND region = ?"
            params.append(region)
        return _refs(self.db.execute(sql + " ORDER BY channel, chat_id", params).fetchall())

    def subscribers_by_region(self) -> dict[str | None, int]:
        """Count of active subscribers per region."""
        rows = self.db.execute(
            f"SELECT region, COUNT(*) FROM chats WHERE {_ACTIVE} "
            "GROUP BY region ORDER BY region").fetchall()
        return {r[0]: r[1] for r in rows}

    def delete_chat(self, chat: ChatRef) -> None:
        """Delete everything stored about a chat (/hapusdata)."""
        key = [chat.channel, chat.id]
        with self._tx() as db:
            for table in ("pledges", "feedback", "chats", "deliveries", "misses"):
                db.execute(f"DELETE FROM {table} WHERE channel = ? AND chat_id = ?", key)
            # Refused admin attempts name the user (private chat id = user id); admins' own
            # actions stay, as the audit trail of what was sent.
            db.execute("DELETE FROM audit WHERE channel = ? AND user_id = ? AND allowed = 0", key)

    # -- pledges, feedback, misses ----------------------------------------------------------
    def record_pledge(self, chat: ChatRef, now: dt.datetime) -> tuple[bool, str]:
        """Record a digital pledge once; return (newly recorded, pledge time)."""
        key = [chat.channel, chat.id]
        with self._tx() as db:
            self._touch(chat, now)
            cursor = db.execute(
                "INSERT INTO pledges (channel, chat_id, pledged_at) VALUES (?, ?, ?) "
                "ON CONFLICT(channel, chat_id) DO NOTHING", [*key, iso(now)])
            created = cursor.rowcount == 1
        row = self.db.execute("SELECT pledged_at FROM pledges WHERE channel = ? AND chat_id = ?",
                              key).fetchone()
        return created, row[0]

    def pledge_count(self) -> int:
        """Number of recorded pledges."""
        return self.db["pledges"].count

    def record_feedback(self, chat: ChatRef, message_id: str, intent: str | None,
                        useful: bool, now: dt.datetime) -> None:
        """Store 👍/👎 for one answer; pressing again replaces the earlier vote."""
        with self._tx() as db:
            db["feedback"].upsert({"channel": chat.channel, "chat_id": chat.id,
                                   "message_id": str(message_id), "intent": intent,
                                   "useful": int(useful), "created_at": iso(now)},
                                  pk=("channel", "chat_id", "message_id"))

    def record_miss(self, text: str, kind: str, intent: str | None, now: dt.datetime,
                    asker: ChatRef | None = None) -> None:
        """Log an unanswered question or a 👎 for admins; `asker` only lets /hapusdata erase it."""
        with self._tx() as db:
            db["misses"].insert({"text": text[:MAX_MISS_CHARS], "kind": kind, "intent": intent,
                                 "created_at": iso(now),
                                 "channel": asker.channel if asker else None,
                                 "chat_id": asker.id if asker else None})

    def recent_misses(self, limit: int = 20) -> list[dict[str, object]]:
        """The newest unanswered questions and 👎, newest first (never who asked)."""
        return list(self.db["misses"].rows_where(select=_MISS_FIELDS, order_by="id desc",
                                                 limit=limit))

    def miss(self, miss_id: int) -> dict[str, object] | None:
        """One logged question by its number, or None."""
        return next(self.db["misses"].rows_where("id = ?", [miss_id]), None)

    def delete_miss(self, miss_id: int) -> None:
        """Forget a logged question (attached to an intent, or dismissed by an admin)."""
        with self._tx() as db:
            db["misses"].delete_where("id = ?", [miss_id])

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
                          regions: Audience | None, created_by: ChatRef | None,
                          now: dt.datetime,
                          notify_chat: ChatRef | None = None) -> list[Broadcast]:
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
                    "created_at, notify_channel, notify_chat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [text, iso(send_at), _regions_json(regions), BroadcastStatus.SCHEDULED,
                     Origin.ADMIN, str(created_by) if created_by else None, iso(now),
                     *_ref_columns(notify_chat)])
                ids.append(int(cursor.lastrowid or 0))
            if len(ids) > 1:
                marks = ", ".join("?" * len(ids))
                db.execute(f"UPDATE broadcasts SET series = ? WHERE id IN ({marks})",
                           [ids[0], *ids])
        return [b for b in (self.broadcast(i) for i in ids) if b is not None]

    def create_broadcast(self, text: str, send_at: dt.datetime, regions: Audience | None,
                         created_by: ChatRef | None, now: dt.datetime,
                         notify_chat: ChatRef | None = None) -> Broadcast:
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

    def send_now(self, broadcast_id: int, now: dt.datetime,
                 notify_chat: ChatRef | None = None) -> bool:
        """Move a scheduled broadcast's time to `now` (the scheduler then starts it)."""
        channel, chat_id = _ref_columns(notify_chat)
        cursor = self.db.execute(
            "UPDATE broadcasts SET send_at = ?, notify_channel = COALESCE(?, notify_channel), "
            "notify_chat = COALESCE(?, notify_chat) WHERE id = ? AND status = ?",
            [iso(now), channel, chat_id, broadcast_id, BroadcastStatus.SCHEDULED])
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
                "INSERT OR IGNORE INTO deliveries (broadcast_id, channel, chat_id, status, "
                f"attempts) SELECT ?, channel, chat_id, ?, 0 FROM chats WHERE {where}",
                [broadcast_id, DeliveryStatus.PENDING, *params])
        return True

    def record_sending_time(self, broadcast_id: int, seconds: float) -> None:
        """Store the time a broadcast has spent sending so far (over all its runs)."""
        self.db.execute("UPDATE broadcasts SET sending_seconds = ? WHERE id = ?",
                        [max(0.0, seconds), broadcast_id])

    def finish_broadcast(self, broadcast_id: int, now: dt.datetime) -> bool:
        """Mark a sending broadcast done once no delivery is pending or in flight."""
        cursor = self.db.execute(
            "UPDATE broadcasts SET status = ?, finished_at = ? WHERE id = ? AND status = ? "
            "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE broadcast_id = ? AND status IN (?, ?))",
            [BroadcastStatus.DONE, iso(now), broadcast_id, BroadcastStatus.SENDING, broadcast_id,
             DeliveryStatus.PENDING, DeliveryStatus.SENDING])
        return cursor.rowcount == 1

    def audience(self, regions: Audience | None) -> list[ChatRef]:
        """Chats an audience would reach now (active subscribers), in id order."""
        where, params = _audience_filter(regions)
        return _refs(self.db.execute(
            f"SELECT channel, chat_id FROM chats WHERE {where} ORDER BY channel, chat_id",
            params).fetchall())

    # -- deliveries -------------------------------------------------------------------------
    def open_deliveries(self, broadcast_id: int) -> list[ChatRef]:
        """Chats still to be sent: in-flight rows (interrupted by a crash) first, then pending."""
        return _refs(self.db.execute(
            "SELECT channel, chat_id FROM deliveries WHERE broadcast_id = ? AND status IN (?, ?) "
            "ORDER BY status = ?, channel, chat_id",
            [broadcast_id, DeliveryStatus.SENDING, DeliveryStatus.PENDING,
             DeliveryStatus.PENDING]).fetchall())

    def begin_delivery(self, broadcast_id: int, chat: ChatRef) -> bool:
        """Mark a delivery in flight (committed before the message leaves) and count the attempt.

        A chat that unsubscribed, blocked the bot or deleted its data since the audience was
        fixed is not sent to: its row is marked blocked or removed.

        Returns:
            True when the caller may send now.
        """
        key = [broadcast_id, chat.channel, chat.id]
        open_params = [*key, DeliveryStatus.PENDING, DeliveryStatus.SENDING]
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1 "
                "WHERE broadcast_id = ? AND channel = ? AND chat_id = ? AND status IN (?, ?) "
                "AND EXISTS (SELECT 1 FROM chats c WHERE c.channel = deliveries.channel AND "
                f"c.chat_id = deliveries.chat_id AND {_ACTIVE_C})",
                [DeliveryStatus.SENDING, *open_params])
            if cursor.rowcount == 1:
                return True
            row = db.execute("SELECT blocked FROM chats WHERE channel = ? AND chat_id = ?",
                             key[1:]).fetchone()
            if row is not None and row[0]:
                db.execute("UPDATE deliveries SET status = ?, last_error = ? WHERE "
                           "broadcast_id = ? AND channel = ? AND chat_id = ? AND status IN (?, ?)",
                           [DeliveryStatus.BLOCKED, "chat blocked the bot", *open_params])
            else:
                db.execute("DELETE FROM deliveries WHERE broadcast_id = ? AND channel = ? AND "
                           "chat_id = ? AND status IN (?, ?)", open_params)
        return False

    def retry_delivery(self, broadcast_id: int, chat: ChatRef, error: str) -> bool:
        """Count one more attempt of an in-flight delivery after a transient error."""
        cursor = self.db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ? "
            "WHERE broadcast_id = ? AND channel = ? AND chat_id = ? AND status = ?",
            [error[:MAX_MISS_CHARS], broadcast_id, chat.channel, chat.id,
             DeliveryStatus.SENDING])
        return cursor.rowcount == 1

    def finish_delivery(self, broadcast_id: int, chat: ChatRef, status: DeliveryStatus,
                        now: dt.datetime, error: str | None = None,
                        message_id: str | None = None) -> bool:
        """Record how an in-flight delivery ended: sent, failed or blocked.

        Blocked also marks the chat blocked (in the same transaction), so no later broadcast
        tries it again until the user comes back. `message_id` is the transport's id of the
        sent message, which later delivery receipts name.
        """
        if status not in (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED):
            raise ValueError(f"not a final delivery status: {status}")
        stamp = iso(now)
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE deliveries SET status = ?, sent_at = ?, last_error = COALESCE(?, "
                "last_error), message_id = COALESCE(?, message_id) "
                "WHERE broadcast_id = ? AND channel = ? AND chat_id = ? AND status = ?",
                [status, stamp if status is DeliveryStatus.SENT else None,
                 error[:MAX_MISS_CHARS] if error else None, message_id, broadcast_id,
                 chat.channel, chat.id, DeliveryStatus.SENDING])
            if cursor.rowcount == 1 and status is DeliveryStatus.BLOCKED:
                db.execute("UPDATE chats SET blocked = 1, updated_at = ? "
                           "WHERE channel = ? AND chat_id = ?", [stamp, chat.channel, chat.id])
        return cursor.rowcount == 1

    def record_receipt(self, chat: ChatRef, message_id: str, receipt: str, now: dt.datetime,
                       error: str | None = None, blocked: bool = False) -> bool:
        """Record a delivery receipt (delivered, read, failed) for a sent broadcast message.

        Receipts only move forward (a late "delivered" never overwrites "read"). A failed
        receipt turns the delivery failed — or blocked, marking the chat, when the user cannot
        be reached — since the message never arrived.

        Returns:
            Whether a delivery row matched.
        """
        order = {"sent": 0, "delivered": 1, "read": 2, "failed": 3}
        with self._tx() as db:
            row = db.execute(
                "SELECT broadcast_id, receipt FROM deliveries WHERE message_id = ? AND "
                "channel = ? AND chat_id = ?", [message_id, chat.channel, chat.id]).fetchone()
            if row is None:
                return False
            broadcast_id, current = row
            if order.get(receipt, -1) <= order.get(current, -1):
                return True
            stamp = iso(now)
            db.execute("UPDATE deliveries SET receipt = ?, receipt_at = ? WHERE "
                       "broadcast_id = ? AND channel = ? AND chat_id = ?",
                       [receipt, stamp, broadcast_id, chat.channel, chat.id])
            if receipt == "failed":
                status = DeliveryStatus.BLOCKED if blocked else DeliveryStatus.FAILED
                db.execute("UPDATE deliveries SET status = ?, last_error = ? WHERE "
                           "broadcast_id = ? AND channel = ? AND chat_id = ?",
                           [status, (error or "failed")[:MAX_MISS_CHARS], broadcast_id,
                            chat.channel, chat.id])
                if blocked:
                    db.execute("UPDATE chats SET blocked = 1, updated_at = ? "
                               "WHERE channel = ? AND chat_id = ?",
                               [stamp, chat.channel, chat.id])
        return True

    def undelivered_text(self, chat: ChatRef, message_id: str) -> str | None:
        """The broadcast text of a sent message that WhatsApp could not deliver (131047).

        The chat's 24-hour window is forgotten in the same step (its last message is too old),
        so the next send to it is the template. None when the message is no broadcast of ours.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT b.text FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id "
                "WHERE d.message_id = ? AND d.channel = ? AND d.chat_id = ?",
                [message_id, chat.channel, chat.id]).fetchone()
            if row is not None:
                db.execute("UPDATE chats SET last_inbound_at = NULL WHERE channel = ? AND "
                           "chat_id = ?", [chat.channel, chat.id])
        return row[0] if row else None

    def redelivered(self, chat: ChatRef, old_message_id: str, message_id: str,
                    now: dt.datetime) -> bool:
        """A delivery refused by a later receipt went out again (as the template): sent again."""
        cursor = self.db.execute(
            "UPDATE deliveries SET status = ?, message_id = ?, receipt = NULL, receipt_at = NULL, "
            "sent_at = ? WHERE message_id = ? AND channel = ? AND chat_id = ?",
            [DeliveryStatus.SENT, message_id, iso(now), old_message_id, chat.channel, chat.id])
        self.db.conn.commit()
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
        """Every delivery row of a broadcast, by chat (for reports and tests); `chat` is its ref."""
        rows = self.db["deliveries"].rows_where(
            "broadcast_id = ?", [broadcast_id], order_by="channel, chat_id")
        return [{**row, "chat": ChatRef(row["channel"], row["chat_id"])} for row in rows]

    # -- audit and statistics ---------------------------------------------------------------
    def record_audit(self, user: ChatRef, action: str, detail: str, allowed: bool,
                     now: dt.datetime) -> None:
        """Log an admin action, or a refused attempt by someone who is not an admin."""
        self.db.execute(
            "INSERT INTO audit (at, channel, user_id, action, detail, allowed) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [iso(now), user.channel, user.id, action, detail[:MAX_MISS_CHARS], int(allowed)])

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
                      "started_at, finished_at, notify_channel, notify_chat, series, "
                      "sending_seconds")


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _broadcast(row: Sequence[Any]) -> Broadcast:
    (bid, key, text, send_at, regions, status, origin, created_by, created_at, started_at,
     finished_at, notify_channel, notify_chat, series, sending_seconds) = row
    creator = ChatRef(*created_by.split(":", 1)) if created_by else None
    notify = ChatRef(notify_channel, notify_chat) if notify_channel else None
    return Broadcast(
        id=bid, key=key, text=text, send_at=dt.datetime.fromisoformat(send_at),
        regions=_regions_from_json(regions), status=BroadcastStatus(status),
        origin=Origin(origin), created_by=creator, created_at=_when(created_at),
        started_at=_when(started_at), finished_at=_when(finished_at), notify_chat=notify,
        series=series, sending_seconds=float(sending_seconds or 0.0))


def _refs(rows: Iterable[Sequence[Any]]) -> list[ChatRef]:
    return [ChatRef(channel, chat_id) for channel, chat_id in rows]


def _ref_columns(chat: ChatRef | None) -> tuple[str | None, str | None]:
    return (None, None) if chat is None else (str(chat.channel), chat.id)


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
