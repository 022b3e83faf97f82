"""Run the real Telegram Application against the fake Bot API (shared by e2e tests and benchmarks).

`running_bot` builds the production Application (`build_application`) pointed at the fake server
through `telegram_base_url`, starts long polling as the launcher does (`serving`), and yields a
`Harness`. It also adds one observer handler in a late group that records which updates finished
processing, so a test can wait for "this update was handled" even when handling sends nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from telegram import Update
from telegram.ext import Application, TypeHandler

from bot.channels.telegram.application import POLL_TIMEOUT, build_application, serving
from bot.channels.telegram.sender import telegram_sender
from bot.config import Settings
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import Channel
from bot.pace import Pace
from bot.services import Clock, Services, build_services
from tests.broadcast_fakes import quick_pace
from tests.fake_bot_api import ApiRequest, FakeBotApi

WAIT_SECONDS = 10.0  # upper bound for a condition wait; a passing test never waits this long
OBSERVER_GROUP = 1000


@dataclass(slots=True)
class ManualClock:
    """An injectable clock that only moves when told to."""

    now: dt.datetime = dt.datetime(2024, 9, 20, 3, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward, e.g. `advance(seconds=61)`."""
        self.now += dt.timedelta(**delta)


@dataclass(slots=True)
class _Processed:
    ids: set[int] = field(default_factory=set)
    condition: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def mark(self, update: Update, _context: object) -> None:
        async with self.condition:
            self.ids.add(update.update_id)
            self.condition.notify_all()

    async def wait(self, update_id: int, timeout: float) -> None:
        async with self.condition:
            await asyncio.wait_for(self.condition.wait_for(lambda: update_id in self.ids),
                                   timeout)


@dataclass(slots=True)
class Harness:
    """The running bot, its services and the fake server it talks to."""

    api: FakeBotApi
    app: Application
    services: Services
    clock: Clock
    _processed: _Processed

    async def processed(self, update_id: int, timeout: float = WAIT_SECONDS) -> None:
        """Wait until every handler group has run for this update."""
        await self._processed.wait(update_id, timeout)

    async def message(self, chat_id: int, since: int, contains: str | None = None,
                      timeout: float = WAIT_SECONDS) -> ApiRequest:
        """Wait (off the event loop) for a sendMessage to `chat_id` recorded after `since`."""
        return await asyncio.to_thread(self.api.wait_for_message, chat_id, since, timeout,
                                       contains)

    async def request(self, predicate: Callable[[ApiRequest], bool], since: int,
                      timeout: float = WAIT_SECONDS) -> ApiRequest:
        """Wait (off the event loop) for any request matching `predicate` after `since`."""
        return await asyncio.to_thread(self.api.wait_for, predicate, timeout, since)

    async def ask(self, chat_id: int, text: str, user_id: int | None = None) -> ApiRequest:
        """Send text and return the bot's (last) reply message."""
        since = self.api.mark()
        update_id = self.api.send_text(chat_id, text, user_id)
        await self.processed(update_id)
        return self.api.sent(chat_id, since)[-1]

    async def command(self, chat_id: int, name: str) -> ApiRequest:
        """Send /name and return the bot's (last) reply message."""
        since = self.api.mark()
        update_id = self.api.send_command(chat_id, name)
        await self.processed(update_id)
        return self.api.sent(chat_id, since)[-1]

    async def press(self, message: ApiRequest, data: str,
                    user_id: int | None = None) -> list[ApiRequest]:
        """Press a button under a bot message; return every request the press caused."""
        since = self.api.mark()
        update_id = self.api.press(message, data, user_id)
        await self.processed(update_id)
        return [r for r in self.api.requests(since=since) if r.method != "getUpdates"]


def run_until_polling(command: list[str], cwd: Path, env: dict[str, str], api: FakeBotApi,
                      db_path: Path, stop_signal: str, stop_timeout: float) -> tuple[int, str]:
    """Run `command` (`main.py run` as a service or container starts it) against `api` with
    `env` on top of this process's environment (minus its bot settings); once it polls, stop
    it with `stop_signal`. Returns its exit code and output."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("TELEGRAM_", "WEBHOOK_", "WHATSAPP_", "DB_"))}
    environment.update(env, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_BASE_URL=api.url,
                       DB_PATH=str(db_path))
    process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        api.wait_for(lambda r: r.method == "getUpdates", timeout=90)  # polling: started
        process.send_signal(getattr(signal, stop_signal))
        output, _ = process.communicate(timeout=stop_timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, output


def settings_for(api: FakeBotApi, db_path: Path, **overrides: object) -> Settings:
    """Settings pointing the bot at the fake server and a private SQLite file."""
    return replace(Settings(), telegram_token=api.token, telegram_base_url=api.url,
                   db_path=db_path, **overrides)


@asynccontextmanager
async def fresh_bot(api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue, folder: Path,
                    **overrides: object) -> AsyncIterator[Harness]:
    """`running_bot` on a new SQLite file in `folder`, with these settings overridden."""
    settings = settings_for(api, folder / "bot.sqlite3", **overrides)
    async with running_bot(api, kb, settings, ManualClock(), dialogue) as harness:
        yield harness


@asynccontextmanager
async def running_bot(api: FakeBotApi, kb: KnowledgeBase, settings: Settings,
                      clock: Clock | None = None, dialogue: Dialogue | None = None,
                      poll_timeout: dt.timedelta = POLL_TIMEOUT,
                      pace: Pace | None = None) -> AsyncIterator[Harness]:
    """Start the production Application with long polling against `api`; stop it afterwards.

    `pace` defaults to `quick_pace` (per-chat gaps of 10 ms): pass the real one to test it.
    """
    clock = clock or ManualClock()
    sender = telegram_sender(settings)
    services = build_services(settings, kb, senders={Channel.TELEGRAM: sender}, clock=clock,
                              dialogue=dialogue, pace=pace or quick_pace(settings))
    app = build_application(services, sender)
    processed = _Processed()
    app.add_handler(TypeHandler(Update, processed.mark), group=OBSERVER_GROUP)
    try:
        async with serving(app, poll_timeout):
            yield Harness(api, app, services, clock, processed)
    finally:
        services.close()
