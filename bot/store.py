"""SQLite storage through sqlite-utils: one file, WAL mode, versioned migrations.

Stores the minimum: chat id, region, subscription state, pledge time, answer feedback, and the
text of unanswered questions (no chat id, no profile data). Times are ISO-8601 UTC strings and
are always passed in by the caller (`now`), never read from the clock here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database, Migrations

MAX_MISS_CHARS = 500

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
        sql = "SELECT chat_id FROM chats WHERE subscribed = 1 AND blocked = 0"
        params: list[object] = []
        if region is not None:
            sql += " AND region = ?"
            params.append(region)
        return [r[0] for r in self.db.execute(sql + " ORDER BY chat_id", params).fetchall()]

    def subscribers_by_region(self) -> dict[str | None, int]:
        """Count of active subscribers per region."""
        rows = self.db.execute(
            "SELECT region, COUNT(*) FROM chats WHERE subscribed = 1 AND blocked = 0 "
            "GROUP BY region ORDER BY region").fetchall()
        return {r[0]: r[1] for r in rows}

    def delete_chat(self, chat_id: int) -> None:
        """Delete everything stored about a chat (/hapusdata)."""
        with self._tx() as db:
            for table in ("pledges", "feedback", "chats"):
                db.execute(f"DELETE FROM {table} WHERE chat_id = ?", [chat_id])
            if db["deliveries"].exists():
                db.execute("DELETE FROM deliveries WHERE chat_id = ?", [chat_id])

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
