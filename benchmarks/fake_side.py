"""Plumbing shared by the Telegram benchmarks: the fake Bot API runs in its own process.

The bot under test and the fake server must not share a core or an event loop, or the server's
work would be timed as the bot's. `serve` runs in the child process and answers load commands
sent over a pipe; `call` sends one from the bot's side without blocking its event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from typing import Any

from bench_matcher import workload

from bot.knowledge import KnowledgeBase
from bot.models import MAX_MESSAGE_CHARS
from tests.fake_bot_api import FakeBotApi


def serve(conn: Connection, commands: dict[str, Callable[..., Any]],
          fake: Callable[[], Any] = FakeBotApi) -> None:
    """Serve a fake (the Bot API by default) and run the load commands the bot's process sends."""
    with fake() as api:
        conn.send(api.url)
        while True:
            command, args = conn.recv()
            if command == "stop":
                return
            conn.send(commands[command](api, *args))


async def call(conn: Connection, command: str, *args: Any) -> Any:
    """Run a load command in the server process and wait for its result."""
    conn.send((command, args))
    return await asyncio.to_thread(conn.recv)


def typed_questions(kb: KnowledgeBase, n: int) -> list[str]:
    """Realistic typed questions (perturbed KB phrasings), valid as Telegram messages."""
    pool = [q for q in workload(kb, n + 100) if q.strip() and len(q) <= MAX_MESSAGE_CHARS]
    return (pool * (n // len(pool) + 1))[:n]


@asynccontextmanager
async def fake_api_process(
        target: Callable[[Connection], None]) -> AsyncIterator[tuple[Connection, str]]:
    """Start `target` (which calls `serve`) in a fresh process; yield the pipe and the API URL."""
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    side = context.Process(target=target, args=(child_conn,), daemon=True)
    side.start()
    try:
        yield conn, await asyncio.to_thread(conn.recv)
    finally:
        conn.send(("stop", ()))
        side.join(timeout=10)
