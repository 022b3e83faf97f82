"""WhatsApp channel benchmark: signed webhook POSTs answered per second, and broadcast pace.

The bot runs as deployed — pywa's client, the FastAPI webhook under uvicorn, the handlers, the
core, a real SQLite file and the real knowledge base — in this process. "Meta's side" runs in a
second process so its work is not timed as the bot's: the fake Graph API that receives the
bot's messages, and the load generator that POSTs signed webhook updates.

1. Questions: `--users` users each ask `--questions` typed questions in a closed loop (the next
   one after the previous was answered). Reported: questions answered per second, and the
   latency from the webhook POST to the first message of the answer (p50, p99).
2. Broadcast: `--subscribers` subscribers outside the 24-hour window (so each reminder is the
   template) at WHATSAPP_BROADCAST_RATE; the fake answers 130429 past 80 messages a second.
   Reported: messages per second, and 130429 answers.

    .venv/bin/python benchmarks/bench_whatsapp.py [--users 32] [--questions 20]
        [--subscribers 2000] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_side import call, fake_api_process, serve

from bot import replies
from bot.broadcasts import utc_now
from bot.knowledge import load_knowledge
from bot.models import ChatRef
from tests.fake_graph_api import FakeGraphApi, Webhook
from tests.whatsapp_harness import running_whatsapp, whatsapp_settings

ROOT = Path(__file__).resolve().parent.parent
FIRST_NUMBER = 6281400000000
ADMIN = "6289999999999"
TEXT = "⏰ Besok masa tenang dimulai. Tetap netral, rekan ASN!"
QUESTIONS = ["boleh gak pns foto bareng paslon?", "asn boleh like postingan caleg?",
             "pns jadi timses boleh?", "kalau pakai kaos partai gimana",
             "boleh hadir kampanye di hari libur?", "cara lapor asn tidak netral"]


# -- Meta's side (the second process) ------------------------------------------------------------
def _closed_loop(api: FakeGraphApi, url: str, users: int, per_user: int) -> dict[str, float]:
    webhook = Webhook(url)
    latencies: list[float] = []

    def user(n: int) -> None:
        wa_id = str(FIRST_NUMBER + n)
        for k in range(per_user):
            since = api.mark()
            started = time.perf_counter()
            webhook.post(webhook.text(wa_id, QUESTIONS[(n + k) % len(QUESTIONS)]))
            # The answer's first message (a long answer's choices follow as a second one).
            first = api.wait_for(lambda r, to=wa_id: r.ok and r.to == to
                                 and r.text != replies.WA_CHOOSE_PROMPT, 30, since)
            latencies.append(first.at - started)
            api.wait_for(lambda r, to=wa_id: r.ok and r.to == to and r.type == "interactive",
                         30, since)  # the whole answer is out before the next question

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(user, range(users)))
    elapsed = time.perf_counter() - started
    webhook.close()
    latencies.sort()
    return {"answered": len(latencies), "elapsed": elapsed,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000}


def _broadcast_pace(api: FakeGraphApi, count: int) -> dict[str, float]:
    sends = api.wait_for_count(lambda r: r.ok and r.template is not None, count, timeout=600)
    ok = [r for r in sends if r.ok]
    limited = sum(1 for r in api.requests() if r.status == 400 and r.template is not None)
    return {"sent": len(ok), "first": ok[0].at, "last": ok[-1].at, "rate_limited": limited}


def _rate_limit(api: FakeGraphApi, per_second: int, pair: tuple[int, float] | None) -> None:
    api.rate_limit(per_second, pair)


def side(conn: Connection) -> None:
    """The second process: the fake Graph API and the load generator."""
    serve(conn, {"questions": _closed_loop, "rate_limit": _rate_limit,
                 "broadcast": _broadcast_pace}, FakeGraphApi)


# -- the bot's side -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _RemoteGraph:
    """Stands in for the fake in `whatsapp_settings`: only its URL is read."""

    url: str


async def main(args: argparse.Namespace) -> None:
    kb = load_knowledge(ROOT / "knowledge")
    async with fake_api_process(side) as (conn, url):
        graph: Any = _RemoteGraph(url)
        with tempfile.TemporaryDirectory() as tmp:
            settings = whatsapp_settings(graph, Path(tmp) / "bench.sqlite3",
                                         whatsapp_rate=args.rate, flood_limit_per_minute=10_000,
                                         whatsapp_admin_numbers=frozenset({ADMIN}))
            async with running_whatsapp(graph, kb, settings, utc_now) as wa:
                asked: dict[str, float] = await call(conn, "questions", wa.url, args.users,
                                                      args.questions)
                print(f"questions: {asked['answered']:.0f} from {args.users} users in "
                      f"{asked['elapsed']:.1f} s = {asked['answered'] / asked['elapsed']:.0f} "
                      f"answered/s; first reply p50 {asked['p50']:.1f} ms, "
                      f"p99 {asked['p99']:.1f} ms")

                store, now = wa.services.store, utc_now()
                with store.db.atomic():
                    for n in range(args.subscribers):
                        chat = ChatRef.whatsapp(str(FIRST_NUMBER + 100_000 + n))
                        store.subscribe(chat, None, now)
                await call(conn, "rate_limit", 80, None)
                store.create_broadcast(TEXT, now, None, ChatRef.whatsapp(ADMIN), now)
                scheduler = wa.services.scheduler
                assert scheduler is not None
                scheduler.sync(utc_now())
                pace: dict[str, float] = await call(conn, "broadcast", args.subscribers)
                await scheduler.idle()
                rate = (pace["sent"] - 1) / (pace["last"] - pace["first"])
                print(f"broadcast: {pace['sent']:.0f} templates at WHATSAPP_BROADCAST_RATE="
                      f"{args.rate:g}: {rate:.1f} msg/s ({rate / args.rate:.3f} of the pace); "
                      f"{pace['rate_limited']:.0f} x 130429")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    asyncio.run(main(parser.parse_args()))
