"""Benchmark the question-answering core: start-up, per-question latency, throughput, scaling.

Run: `make bench` (or `.venv/bin/python benchmarks/bench_matcher.py [--inflate 10]`).
Prints p50/p99 latency per question and questions/s on one core for the real knowledge base and
for a knowledge base inflated N times with synthetic phrasings, plus start-up: load/validate,
and index + training of the learned scorer (one BLAS thread, as in the bot). The trained scorer
is cached on disk as the bot caches it: the first run times training, later runs the start-up
of a bot whose KB did not change (delete data/bench-models to train again).
Compare ratios within one run: the machine is shared and absolute numbers are noisy.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits

from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase, load_knowledge
from bot.matcher import Matcher

ROOT = Path(__file__).resolve().parent.parent
FILLERS = ["min", "pak", "kak", "ya", "dong", "sih", "tolong", "mohon info", "gan", "bu"]
NOISE = ["kantor", "dinas", "kemarin", "besok", "teman", "warga", "desa", "kota", "sekolah"]


def workload(kb: KnowledgeBase, n: int, seed: int = 1) -> list[str]:
    """Realistic questions: KB phrasings perturbed with filler, noise words and typos."""
    rng = random.Random(seed)
    phrasings = [q for i in kb.intents.values() for q in i.questions]
    out = []
    for _ in range(n):
        words = rng.choice(phrasings).split()
        if rng.random() < 0.5:
            words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
        if rng.random() < 0.3:
            words.append(rng.choice(NOISE))
        if rng.random() < 0.3 and words:
            k = rng.randrange(len(words))
            w = words[k]
            if len(w) > 4:
                j = rng.randrange(1, len(w) - 1)
                words[k] = w[:j] + w[j + 1 :]
        out.append(" ".join(words))
    out += ["resep rendang", "", "a" * 5000, "🙏🙏"]
    return out


def inflate(kb: KnowledgeBase, factor: int, seed: int = 2) -> KnowledgeBase:
    """Return a KB with `factor` times as many phrasings (synthetic variants) and intents."""
    rng = random.Random(seed)
    intents = dict(kb.intents)
    for copy in range(1, factor):
        for intent in kb.intents.values():
            questions = tuple(
                " ".join(rng.sample(q.split(), len(q.split()))) + f" varian{copy}x{n}"
                for n, q in enumerate(intent.questions)
            )
            clone = replace(intent, id=f"{intent.id}_c{copy}", questions=questions, related=())
            intents[clone.id] = clone
    return replace(kb, intents=intents)


def measure(dialogue: Dialogue, questions: list[str]) -> dict[str, float]:
    """Latency percentiles (ms) and throughput (questions/s) of dialogue.answer."""
    for q in questions[:200]:  # warm caches
        dialogue.answer(q)
    times = []
    started = time.perf_counter()
    for q in questions:
        t0 = time.perf_counter()
        dialogue.answer(q)
        times.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p99_ms": times[int(len(times) * 0.99) - 1],
        "qps": len(questions) / total,
    }


def timed_matcher(kb: KnowledgeBase, cache: Path, name: str) -> Matcher:
    """Index `kb`; train the learned scorer cold the first time (timed), then from `cache`."""
    started = time.perf_counter()
    matcher = Matcher(kb, model_cache=cache)
    took = time.perf_counter() - started
    trained = matcher.classifier is not None and matcher.classifier.trained
    print(f"{name}: scorer {'trained' if trained else 'loaded from the cache'} "
          f"(index{' + train' if trained else ''} {1000 * took:.0f} ms)")
    return matcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=5000)
    parser.add_argument("--inflate", type=int, default=10)
    parser.add_argument("--model-cache", default=str(ROOT / "data" / "bench-models"),
                        help="where trained scorers are kept between runs (as the bot does)")
    args = parser.parse_args()
    threadpool_limits(1)

    cache = Path(args.model_cache)
    t0 = time.perf_counter()
    kb = load_knowledge(ROOT / "knowledge")
    t1 = time.perf_counter()
    matcher = timed_matcher(kb, cache, "real KB")
    t2 = time.perf_counter()
    phrasings = sum(len(i.questions) for i in kb.intents.values())
    print(f"start-up: load+validate {1000 * (t1 - t0):.0f} ms, index(+train) "
          f"{1000 * (t2 - t1):.0f} ms, total {1000 * (t2 - t0):.0f} ms "
          f"({len(kb.intents)} intents, {phrasings} phrasings)")

    questions = workload(kb, args.questions)
    real = measure(Dialogue(kb, matcher), questions)
    print(f"real KB      : p50 {real['p50_ms']:.3f} ms  p99 {real['p99_ms']:.3f} ms  "
          f"{real['qps']:,.0f} questions/s")

    big = inflate(kb, args.inflate)
    t3 = time.perf_counter()
    big_matcher = timed_matcher(big, cache / "inflated", f"inflated x{args.inflate}")
    t4 = time.perf_counter()
    big_phrasings = sum(len(i.questions) for i in big.intents.values())
    inflated = measure(Dialogue(big, big_matcher), questions)
    print(f"inflated x{args.inflate}: p50 {inflated['p50_ms']:.3f} ms  p99 "
          f"{inflated['p99_ms']:.3f} ms  {inflated['qps']:,.0f} questions/s  "
          f"(index(+train) {1000 * (t4 - t3):.0f} ms, {big_phrasings} phrasings)")
    print(f"growth: {big_phrasings / phrasings:.1f}x phrasings -> "
          f"{inflated['p50_ms'] / real['p50_ms']:.1f}x p50 latency "
          f"(linear would be {big_phrasings / phrasings:.1f}x)")


if __name__ == "__main__":
    main()
