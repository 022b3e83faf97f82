"""Tanya Netral command line: the composition root.

    python main.py run                 start the bot (Telegram if configured, else console chat)
    python main.py ask [--json] [Q]    answer one question, or one per stdin line
    python main.py check               validate the knowledge base
    python main.py eval [FILE] [--kfold] [--calibrate]   measure answer quality
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase, KnowledgeError, load_knowledge


def _load_kb(settings: Settings) -> KnowledgeBase:
    try:
        return load_knowledge(settings.knowledge_dir)
    except KnowledgeError as exc:
        print(f"Knowledge base has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_check(settings: Settings, _args: argparse.Namespace) -> int:
    started = time.perf_counter()
    kb = _load_kb(settings)
    phrasings = sum(len(i.questions) for i in kb.intents.values())
    print(f"OK: {len(kb.intents)} intents, {phrasings} phrasings, {len(kb.sources)} sources, "
          f"{len(kb.topics)} topics, {len(kb.pledges)} pledge(s) "
          f"({(time.perf_counter() - started) * 1000:.0f} ms)")
    return 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    dialogue = Dialogue(_load_kb(settings))
    questions = [" ".join(args.question)] if args.question else (
        line.rstrip("\n") for line in sys.stdin)
    for question in questions:
        reply = dialogue.answer(question)
        if args.json:
            print(json.dumps(reply.to_json_dict(), ensure_ascii=False), flush=True)
        else:
            print(reply.text)
            for n, choice in enumerate(reply.buttons, start=1):
                print(f"  [{n}] {choice.label}")
    return 0


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from bot import evaluation

    kb = _load_kb(settings)
    dialogue = Dialogue(kb)
    if args.kfold:
        for line in evaluation.kfold(kb, k=args.folds).lines():
            print(line)
    if args.file is None:
        return 0
    try:
        items = evaluation.load_labelled(Path(args.file))
    except (OSError, evaluation.LabelError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.calibrate:
        print("best policies (harmful, correct%, rejected%, clarify%):")
        for policy, report in evaluation.calibrate(dialogue, items)[:8]:
            print(f"  answer>={policy.answer_threshold:.2f} clarify>={policy.clarify_threshold:.2f}"
                  f" margin>={policy.margin:.2f}: {report.harmful} harmful, "
                  f"{report.correct_pct:.1f}%, {report.rejected_pct:.1f}%, "
                  f"{report.clarify_pct:.1f}%")
    report = evaluation.evaluate(dialogue, items)
    misses = report.misses()
    print(f"misses ({len(misses)}):")
    for outcome in misses:
        print(evaluation.format_miss(outcome))
    for line in report.summary_lines():
        print(line)
    return 0


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.channels.launcher import run

    return run(settings, _load_kb(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="Tanya Netral")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot").set_defaults(func=cmd_run)
    ask = sub.add_parser("ask", help="answer questions from the command line or stdin")
    ask.add_argument("--json", action="store_true", help="print the Reply as one JSON line")
    ask.add_argument("question", nargs="*")
    ask.set_defaults(func=cmd_ask)
    sub.add_parser("check", help="validate the knowledge base").set_defaults(func=cmd_check)
    ev = sub.add_parser("eval", help="evaluate answer quality")
    ev.add_argument("file", nargs="?", help="labelled questions (YAML)")
    ev.add_argument("--kfold", action="store_true", help="k-fold over the KB's own phrasings")
    ev.add_argument("--folds", type=int, default=5)
    ev.add_argument("--calibrate", action="store_true", help="sweep decision thresholds")
    ev.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return args.func(settings, args)


if __name__ == "__main__":
    sys.exit(main())
