"""Tanya Netral command line: the composition root.

    python main.py [run]               start the bot (Telegram if configured, else console chat)
    python main.py ask [--json] [Q]    answer one question, or one per stdin line
    python main.py check               validate the knowledge base
    python main.py eval [FILE ...] [--kfold] [--calibrate]   measure answer quality
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from threadpoolctl import threadpool_limits

from bot.config import ConfigError, Settings, config_warnings, load_settings
from bot.dialogue import Dialogue
from bot.instance import InstanceError, instance_lock
from bot.knowledge import KnowledgeBase, KnowledgeError, load_knowledge, stale_reviews
from bot.store import StoreError

logger = logging.getLogger("main")


def _load_kb(settings: Settings, exit_code: int = 1) -> KnowledgeBase:
    """The knowledge base, or its problems on stderr and exit (1 for `check`, 2 at start-up)."""
    try:
        return load_knowledge(settings.knowledge_dir)
    except KnowledgeError as exc:
        print(f"Knowledge base has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(exit_code) from None


def cmd_check(settings: Settings, _args: argparse.Namespace) -> int:
    started = time.perf_counter()
    kb = _load_kb(settings)
    phrasings = sum(len(i.questions) for i in kb.intents.values())
    print(f"OK: {len(kb.intents)} intents, {phrasings} phrasings, {len(kb.sources)} sources, "
          f"{len(kb.topics)} topics, {len(kb.pledges)} pledge(s) "
          f"({(time.perf_counter() - started) * 1000:.0f} ms)")
    today = dt.datetime.now(ZoneInfo("Asia/Jakarta")).date()
    for warning in stale_reviews(kb, today):  # a reminder, not a failure
        print(f"WARN: {warning}")
    return 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    if not args.question and sys.stdin.isatty():  # nothing piped in: say how, do not hang
        args.parser.print_usage(sys.stderr)
        print("ask: give a question, or pipe one question per line on stdin", file=sys.stderr)
        return 2
    dialogue = Dialogue(_load_kb(settings), model_cache=settings.model_cache)
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

    if not args.files and not args.kfold:
        print("eval: name one or more labelled files (YAML) and/or --kfold", file=sys.stderr)
        return 2
    kb = _load_kb(settings)
    dialogue = Dialogue(kb, model_cache=settings.model_cache)
    sets = {}
    for name in args.files:
        try:
            sets[name] = evaluation.load_labelled(Path(name))
        except (OSError, evaluation.LabelError) as exc:
            print(exc, file=sys.stderr)
            return 2
    held_out = (evaluation.kfold_readings(kb, k=args.folds, seed=args.seed)
                if args.kfold or args.calibrate else [])
    if args.calibrate:
        print("best policies (0 harmful first, then the mean of correct% and k-fold verdict%):")
        for trial in evaluation.calibrate(dialogue, sets, held_out)[:8]:
            p = trial.policy
            figures = "  ".join(f"{Path(n).name} {r.correct_pct:.1f}%/cl {r.clarify_pct:.1f}%"
                                for n, r in trial.reports.items())
            print(f"  answer>={p.answer_threshold:.2f} agree>={p.agree_threshold:.2f} "
                  f"clarify>={p.clarify_threshold:.2f} margin>={p.margin:.2f} "
                  f"boleh-lead>={p.unsafe_boleh_margin:.2f}: {trial.harmful} harmful, "
                  f"score {trial.score:.1f} | {figures} | k-fold verdict "
                  f"{100 * trial.kfold.same_verdict / max(trial.kfold.total, 1):.1f}%")
    for name, items in sets.items():
        report = evaluation.evaluate(dialogue, items)
        misses = report.misses()
        print(f"== {name}\nmisses ({len(misses)}):")
        for outcome in misses:
            print(evaluation.format_miss(outcome))
        for line in report.summary_lines():
            print(line)
    if args.kfold:
        for line in evaluation.kfold_report(held_out).lines():
            print(line)
    return 0


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.channels.launcher import run

    for warning in config_warnings(settings):
        logger.warning("%s", warning)
    try:
        with instance_lock(settings.db_path):  # before the slow part: a second one stops at once
            return run(settings, _load_kb(settings, exit_code=2))
    except (InstanceError, StoreError) as exc:  # start-up problems: one line, no traceback
        print(f"start-up error: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="Tanya Netral")
    parser.set_defaults(func=cmd_run)  # no command: run the bot, as `make run` does
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="start the bot (the default)").set_defaults(func=cmd_run)
    ask = sub.add_parser("ask", help="answer questions from the command line or stdin")
    ask.add_argument("--json", action="store_true", help="print the Reply as one JSON line")
    ask.add_argument("question", nargs="*")
    ask.set_defaults(func=cmd_ask, parser=ask)
    sub.add_parser("check", help="validate the knowledge base").set_defaults(func=cmd_check)
    ev = sub.add_parser("eval", help="evaluate answer quality")
    ev.add_argument("files", nargs="*", metavar="FILE", help="labelled questions (YAML)")
    ev.add_argument("--kfold", action="store_true", help="k-fold over the KB's own phrasings")
    ev.add_argument("--folds", type=int, default=5)
    ev.add_argument("--seed", type=int, default=7, help="k-fold shuffle seed")
    ev.add_argument("--calibrate", action="store_true",
                    help="sweep decision thresholds on all FILEs together with k-fold")
    ev.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # One BLAS/OpenMP thread: numpy's thread pools fight over 2 cores for no gain (the learned
    # scorer multiplies one sparse row per question).
    threadpool_limits(1)
    try:
        settings = load_settings()
    except ConfigError as exc:
        for problem in str(exc).splitlines():
            print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        code = args.func(settings, args)
        sys.stdout.flush()
    except BrokenPipeError:  # `main.py ask … | head` closed the pipe: stop quietly
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
