"""Benchmark a broadcast against Telegram-like limits while users keep asking questions.

Run: `.venv/bin/python benchmarks/bench_broadcast.py [--subscribers 5000] [--rate 25]
[--questions-per-second 2]` (or `make bench-broadcast`). 5,000 subscribers at 25 msg/s take
about 200 s; `--subscribers 1000` gives a 40 s run.

The bot runs as deployed: the production Application (long polling, handlers, update processor)
with its scheduler and `TelegramSender`, a real SQLite file, the real knowledge base and the
real clock. The fake Bot API (tests/fake_bot_api.py) runs in a separate process, like Telegram's
servers would, enforcing Telegram's limits: more than 30 messages in a second per bot, or more
than one in a second to one chat, is answered 429 with retry_after=1. That process also sends
the questions and takes the timings. The broadcast is started as "send now" would start it, after
a short warm-up. Measured:

* pace: broadcast messages accepted per second, first to last, as a fraction of the configured
  `BROADCAST_RATE` (goal >= 0.95);
* 429s answered to broadcast messages (goal 0: our pacing keeps under the limits), and to
  interactive replies (they share the bot's 30/s with the broadcast: 25/s leaves them 5/s);
* reply latency p50/p99/max for questions asked while the broadcast runs, from the moment the
  update is queued on the "Telegram side" to the moment its answer arrives (goal p99 <= 200 ms).

The machine is shared: compare runs, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_side import call, fake_api_process, serve, typed_questions

from bot.channels.telegram.application import build_application, serving
from bot.channels.telegram.sender import telegram_sender
from bot.config import Settings
from bot.knowledge import load_knowledge
from bot.models import BroadcastStatus, Channel, ChatRef
from bot.services import build_services
from tests.fake_bot_api import TOKEN, ApiRequest, FakeBotApi

ROOT = Path(__file__).resolve().parent.parent
ADMIN = 900
FIRST_ASKER = 10_000
FIRST_SUBSCRIBER = 1_000_000
TEXT = "📣 Pengingat: ASN wajib netral selama masa kampanye. Simak aturannya: /topik"
WAIT_SECONDS = 120.0


# -- the "Telegram side" (runs in its own process) ---------------------------------------------
def _asked(api: FakeBotApi, chat_id: int, question: str, sent_at: dict[int, deque[float]]) -> None:
    sent_at.setdefault(chat_id, deque()).append(time.perf_counter())
    api.send_text(chat_id, question)


def _is_answer(request: ApiRequest) -> bool:
    return (request.method == "sendMessage" and request.ok
            and FIRST_ASKER <= (request.chat_id or 0) < FIRST_SUBSCRIBER)


def _warm_up(api: FakeBotApi, questions: list[str]) -> None:
    since = api.mark()
    for n, question in enumerate(questions):
        api.send_text(FIRST_ASKER + n, question)
    api.wait_for_count(_is_answer, len(questions), WAIT_SECONDS, since)


def _measure(api: FakeBotApi, subscribers: int, questions: list[str], askers: int,
             per_second: float) -> dict[str, Any]:
    """Ask questions at a steady rate until every subscriber got the broadcast; time it all."""
    api.rate_limit(30, 1)
    since = api.mark()
    sent_at: dict[int, deque[float]] = {}
    start = time.perf_counter()
    n = 0
    while True:
        delivered = sum(1 for r in api.requests("sendMessage", since)
                        if r.ok and (r.chat_id or 0) >= FIRST_SUBSCRIBER)
        if delivered >= subscribers:
            break
        if time.perf_counter() - start > subscribers * 2 + WAIT_SECONDS:
            raise TimeoutError(f"only {delivered}/{subscribers} delivered")
        delay = start + n / per_second - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        _asked(api, FIRST_ASKER + askers + n % askers, questions[n % len(questions)], sent_at)
        n += 1
    api.wait_for_count(_is_answer, n, WAIT_SECONDS, since)
    requests = api.requests("sendMessage", since)
    broadcast = [r for r in requests if (r.chat_id or 0) >= FIRST_SUBSCRIBER]
    accepted = [r.at for r in broadcast if r.ok]
    first, last = accepted[0], accepted[-1]
    answers = sorted((r for r in requests if _is_answer(r)), key=lambda r: r.at)
    latencies = []
    for reply in answers:  # one chat's questions are answered in order
        asked = sent_at[reply.chat_id].popleft()
        if first <= asked <= last:
            latencies.append((reply.at - asked) * 1000)
    latencies.sort()
    return {
        "accepted": len(accepted), "seconds": last - first,
        "rate": (len(accepted) - 1) / (last - first),
        "broadcast_429": sum(1 for r in broadcast if r.status == 429),
        "reply_429": sum(1 for r in requests if r.status == 429
                         and FIRST_ASKER <= (r.chat_id or 0) < FIRST_SUBSCRIBER),
        "other_429": sum(1 for r in requests if r.status == 429 and r.chat_id == ADMIN),
        "peak_broadcast": _peak(accepted),
        "peak_all": _peak(sorted(r.at for r in requests if r.ok)),
        "questions": len(latencies), "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max_ms": latencies[-1],
    }


def _peak(times: list[float]) -> int:
    """The most arrivals (sorted times) within any one second, as Telegram's limit counts."""
    peak, low = 0, 0
    for high, t in enumerate(times):
        while times[low] <= t - 1:
            low += 1
        peak = max(peak, high - low + 1)
    return peak


def _telegram_side(conn: Connection) -> None:
    serve(conn, {"warm_up": _warm_up, "measure": _measure})


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the fake server process and the bot, then broadcast while questions come in."""
    kb = load_knowledge(ROOT / "knowledge")
    async with fake_api_process(_telegram_side) as (conn, url):
        with tempfile.TemporaryDirectory() as tmp:
            settings = replace(Settings(), telegram_token=TOKEN, telegram_base_url=url,
                               db_path=Path(tmp) / "bench.sqlite3",
                               admin_ids=frozenset({ADMIN}), broadcast_rate=args.rate)
            sender = telegram_sender(settings)
            services = build_services(settings, kb, senders={Channel.TELEGRAM: sender})
            store = services.store
            now = services.clock()
            with store.db.atomic():  # one transaction: seeding is not what we measure
                for n in range(args.subscribers):
                    store.subscribe(ChatRef.telegram(FIRST_SUBSCRIBER + n), None, now)
            try:
                async with serving(build_application(services, sender)):
                    await call(conn, "warm_up", typed_questions(kb, 20))
                    now = services.clock()
                    admin = ChatRef.telegram(ADMIN)
                    broadcast = store.create_broadcast(TEXT, now, None, admin, now, admin)
                    services.scheduler.sync(now)  # what /kirimsekarang does
                    questions = typed_questions(kb, 500)
                    result = await call(conn, "measure", args.subscribers, questions,
                                         args.askers, args.questions_per_second)
                    await services.scheduler.idle()
                    assert store.broadcast_status(broadcast.id) is BroadcastStatus.DONE
                    result["counts"] = store.delivery_counts(broadcast.id)
            finally:
                store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=25.0, help="BROADCAST_RATE, msg/s")
    parser.add_argument("--questions-per-second", type=float, default=2.0)
    parser.add_argument("--askers", type=int, default=60, help="distinct users asking")
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    r = asyncio.run(run(args))
    print(f"broadcast: {r['accepted']} messages in {r['seconds']:.1f} s -> {r['rate']:.2f} msg/s"
          f" = {r['rate'] / args.rate:.3f} of the configured {args.rate:g}/s (goal >= 0.95); "
          f"stored: {r['counts']}")
    print(f"429s: {r['broadcast_429']} on broadcast messages (goal 0), {r['reply_429']} on "
          f"replies, {r['other_429']} on admin notices; busiest second: {r['peak_broadcast']} "
          f"broadcast messages, {r['peak_all']} messages in all (limit 30)")
    print(f"replies during the broadcast: {r['questions']} questions at "
          f"{args.questions_per_second:g}/s -> p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms,"
          f" max {r['max_ms']:.1f} ms (goal p99 <= 200 ms)")
    print(f"(run started {started:%Y-%m-%d %H:%M} UTC)")


if __name__ == "__main__":
    main()
