"""A hard crash (SIGKILL) in the middle of a broadcast: nobody is missed, duplicates stay ≤ W.

The bot runs as in production, `python main.py run` in its own process, against the fake Bot API
served by this test process (which survives the kill). Subscribers and a due broadcast are
written to the SQLite file before the first start, so the real clock needs no tricks: the
scheduler finds the broadcast due at start-up and sends it. The fake server records every
sendMessage and then holds its answer back for a moment, so at any instant about W messages
are delivered on Telegram's side but not yet confirmed to the bot: the kill lands in that worst
case. After a restart the broadcast resumes; we then count what every chat received.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot import replies
from bot.broadcasts import DEFAULT_WORKERS
from bot.config import DEFAULT_BROADCAST_SENDER
from bot.models import BroadcastStatus, Channel, ChatRef, DeliveryStatus
from bot.store import Store
from tests.conftest import KNOWLEDGE_DIR, ROOT
from tests.fake_bot_api import FakeBotApi

ADMIN = 900
SUBSCRIBERS = 300
FIRST_CHAT = 70_000
ANSWER_DELAY = 0.05  # seconds each sendMessage answer is held back after the message is recorded
KILL_AFTER = 60      # broadcast messages received before the kill
TEXT = "⏰ Besok masa kampanye dimulai. Ingat ikrar netralitas ASN: tidak berpihak."
WAIT_SECONDS = 60.0


def _env(api: FakeBotApi, db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "WEBHOOK_", "BROADCAST_", "ADMIN_", "DB_"))}
    env.update(TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_BASE_URL=api.url, DB_PATH=str(db_path),
               KNOWLEDGE_DIR=str(KNOWLEDGE_DIR), ADMIN_IDS=str(ADMIN), BROADCAST_RATE="1000",
               LOG_LEVEL="WARNING")
    return env


@contextmanager
def bot_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python main.py run`; on leaving, stop it (SIGTERM, then SIGKILL) if still alive."""
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "main.py", "run"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def seed(db_path: Path, chats: list[ChatRef], admin: ChatRef, text: str = TEXT) -> None:
    """Subscribe `chats` and store a broadcast due now, reported to `admin` (before any start)."""
    store = Store(db_path)
    try:
        now = dt.datetime.now(dt.UTC)
        for chat in chats:
            store.subscribe(chat, None, now)
        store.create_broadcast(text, now, None, admin, now, notify_chat=admin)
    finally:
        store.close()


def in_flight(db_path: Path) -> tuple[BroadcastStatus | None, set[str]]:
    """The first broadcast's status and the chats (ids) whose delivery is in flight."""
    store = Store(db_path)
    try:
        rows = store.deliveries(1)
        return store.broadcast_status(1), {r["chat_id"] for r in rows
                                           if r["status"] == DeliveryStatus.SENDING}
    finally:
        store.close()


def kill_mid_broadcast(env: dict[str, str], log: Path, sent_enough: Callable[[], object]) -> None:
    """Start the bot, SIGKILL it once `sent_enough` returns (it waits for the fake's messages)."""
    with bot_process(env, log) as first:
        sent_enough()
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL


COPY = replies.broadcast_copy(TEXT, Channel.TELEGRAM, DEFAULT_BROADCAST_SENDER)


def _is_broadcast(request: object) -> bool:
    return getattr(request, "method", None) == "sendMessage" and request.text == COPY


def test_sigkill_mid_broadcast_then_restart_misses_nobody(fake_api: FakeBotApi,
                                                          tmp_path: Path) -> None:
    db_path, log = tmp_path / "bot.sqlite3", tmp_path / "bot.log"
    chats = list(range(FIRST_CHAT, FIRST_CHAT + SUBSCRIBERS))
    seed(db_path, [ChatRef.telegram(c) for c in chats], ChatRef.telegram(ADMIN))
    env = _env(fake_api, db_path)
    fake_api.slow_down(ANSWER_DELAY)

    kill_mid_broadcast(env, log,
                       lambda: fake_api.wait_for_count(_is_broadcast, KILL_AFTER, WAIT_SECONDS))
    before = Counter(r.chat_id for r in fake_api.sent() if r.text == COPY)
    assert KILL_AFTER <= len(before) < SUBSCRIBERS, "the kill must land mid-broadcast"
    status, flying = in_flight(db_path)
    assert status is BroadcastStatus.SENDING
    assert len(flying) <= DEFAULT_WORKERS

    since = fake_api.mark()
    with bot_process(env, log):
        done = fake_api.wait_for(lambda r: r.ok and r.chat_id == ADMIN
                                 and "Siaran #1: selesai" in (r.text or ""), WAIT_SECONDS, since)
    assert f"terkirim {SUBSCRIBERS}" in (done.text or ""), log.read_text(errors="replace")
    resumed = fake_api.wait_for_message(ADMIN, since, contains="dilanjutkan")
    assert f"paling banyak {DEFAULT_WORKERS} penerima" in (resumed.text or "")

    received = Counter(r.chat_id for r in fake_api.sent() if r.text == COPY)
    assert set(received) == set(chats)  # nobody is missing
    duplicates = {chat: n - 1 for chat, n in received.items() if n > 1}
    assert sum(duplicates.values()) <= DEFAULT_WORKERS  # the bound stated in the README
    assert {str(c) for c in duplicates} <= flying  # only messages in flight at the kill repeat
    assert all(n == 1 for n in duplicates.values())
    status, in_flight_after = in_flight(db_path)
    assert status is BroadcastStatus.DONE and in_flight_after == set()
