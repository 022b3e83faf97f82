"""A hard crash (SIGKILL) mid-broadcast on WhatsApp: nobody is missed, duplicates stay ≤ W.

As `test_broadcast_crash.py` does for Telegram: `python main.py run`, configured for WhatsApp
only, runs in its own process against the fake Graph API served by this test process (which
survives the kill). Subscribers and a due broadcast are in the SQLite file before the first
start; none of them wrote within 24 hours, so every reminder goes as the approved template. The
fake records each message, then holds its answer back, so about W messages are delivered on
WhatsApp's side but unconfirmed when the kill lands. After a restart the broadcast resumes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.broadcasts import DEFAULT_WORKERS
from bot.models import BroadcastStatus, ChatRef
from tests.conftest import KNOWLEDGE_DIR
from tests.fake_graph_api import APP_SECRET, PHONE_NUMBER_ID, TOKEN, VERIFY_TOKEN, FakeGraphApi
from tests.test_broadcast_crash import bot_process, in_flight, kill_mid_broadcast, seed
from tests.whatsapp_harness import free_port

ADMIN = "6289999999999"
SUBSCRIBERS = 300
FIRST_NUMBER = 6281300000000
ANSWER_DELAY = 0.05
KILL_AFTER = 60
TEXT = "⏰ Besok masa kampanye dimulai. Ingat ikrar netralitas ASN: tidak berpihak."
WAIT_SECONDS = 60.0


@pytest.fixture
def graph() -> Iterator[FakeGraphApi]:
    with FakeGraphApi() as api:
        yield api


def _env(graph: FakeGraphApi, db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "WEBHOOK_", "WHATSAPP_", "BROADCAST_", "ADMIN_",
                                "DB_"))}
    env.update(WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID, WHATSAPP_ACCESS_TOKEN=TOKEN,
               WHATSAPP_APP_SECRET=APP_SECRET, WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
               WHATSAPP_API_URL=graph.url, WHATSAPP_WEBHOOK_LISTEN="127.0.0.1",
               WHATSAPP_WEBHOOK_PORT=str(free_port()), WHATSAPP_ADMIN_NUMBERS=ADMIN,
               WHATSAPP_REMINDER_TEMPLATE="pengingat_netralitas:id",
               WHATSAPP_BROADCAST_RATE="80", DB_PATH=str(db_path),
               KNOWLEDGE_DIR=str(KNOWLEDGE_DIR), LOG_LEVEL="WARNING")
    return env


def _is_broadcast(request: object) -> bool:
    return getattr(request, "template", None) == "pengingat_netralitas" and \
        getattr(request, "text", "") == TEXT


def test_sigkill_mid_whatsapp_broadcast_then_restart_misses_nobody(graph: FakeGraphApi,
                                                                   tmp_path: Path) -> None:
    db_path, log = tmp_path / "wa.sqlite3", tmp_path / "wa.log"
    numbers = [str(FIRST_NUMBER + n) for n in range(SUBSCRIBERS)]
    seed(db_path, [ChatRef.whatsapp(n) for n in numbers], ChatRef.whatsapp(ADMIN), TEXT)
    env = _env(graph, db_path)
    graph.slow_down(ANSWER_DELAY)

    kill_mid_broadcast(env, log,
                       lambda: graph.wait_for_count(_is_broadcast, KILL_AFTER, WAIT_SECONDS))
    before = Counter(r.to for r in graph.sent() if _is_broadcast(r))
    assert KILL_AFTER <= len(before) < SUBSCRIBERS, "the kill must land mid-broadcast"
    status, flying = in_flight(db_path)
    assert status is BroadcastStatus.SENDING
    assert len(flying) <= DEFAULT_WORKERS

    since = graph.mark()
    env["WHATSAPP_WEBHOOK_PORT"] = str(free_port())
    with bot_process(env, log):
        done = graph.wait_for_reply(ADMIN, since, WAIT_SECONDS, contains="Siaran #1: selesai")
    assert f"terkirim {SUBSCRIBERS}" in done.text, log.read_text(errors="replace")

    received = Counter(r.to for r in graph.sent() if _is_broadcast(r))
    assert set(received) == set(numbers)  # nobody is missing
    duplicates = {chat: n - 1 for chat, n in received.items() if n > 1}
    assert sum(duplicates.values()) <= DEFAULT_WORKERS
    assert set(duplicates) <= flying  # only messages in flight at the kill are repeated
    status, in_flight_after = in_flight(db_path)
    assert status is BroadcastStatus.DONE and in_flight_after == set()
